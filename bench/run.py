"""mailtwin benchmarks: ``make bench`` -> bench/results.json and a table.

Every case runs in a fresh Python process (so peak RSS belongs to that run alone), several times; the
table shows medians. The reference is plain SimPy measured in the same invocation, so the ratio of the
twin's time per customer to the reference's survives a noisy or slower machine.

Cases:
  reference     bare SimPy: 5-station tandem, one process per customer with simpy.Resource
  twin-tandem   the same tandem built from mailtwin stations (scenario machinery, ledger, probe)
  baseline-1d   scenarios/baseline.yaml for one simulated day, run and saved with its report
  baseline-7d   ... for seven (the target: at most 120 s of run and 1 GB peak RSS of the whole process)
  baseline-30d  ... for thirty (not run by default: --cases baseline-30d; the target: at most 1.5 GB)

"wall s" is the run itself (the model's loop); "total s" is the whole simulate-and-save: building the
model, the run, writing the ledger file and the KPIs, the report. Peak RSS is the whole process's,
saving and report included.

For the baselines, "customers" are the SMTP transactions that reached DATA: the work a message that is
not refused at connect or RCPT causes; the ratio compares the twin's seconds per such message with the
reference's seconds per customer.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Time this checkout's code, not whatever copy of ``twin`` the virtualenv has installed (a second worktree
# sharing a virtualenv would otherwise time the first one's code).
sys.path.insert(0, str(ROOT))
TANDEM_CUSTOMERS = 200_000
TANDEM_RATE = 1.0  # customers per second
TANDEM_SERVICE = 0.8  # mean seconds at each of the 5 stations: rho = 0.8


def case_reference() -> dict:
    import numpy as np
    import simpy

    rng = np.random.default_rng(1)
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=1) for _ in range(5)]
    gaps = rng.exponential(1 / TANDEM_RATE, TANDEM_CUSTOMERS)
    services = rng.exponential(TANDEM_SERVICE, (TANDEM_CUSTOMERS, 5))
    done = [0]

    def customer(i):
        for k, st in enumerate(stations):
            with st.request() as req:
                yield req
                yield env.timeout(services[i, k])
        done[0] += 1

    def source():
        for i in range(TANDEM_CUSTOMERS):
            yield env.timeout(gaps[i])
            env.process(customer(i))

    env.process(source())
    t0 = time.perf_counter()
    env.run()
    wall = time.perf_counter() - t0
    return {"wall_seconds": wall, "customers": done[0], "events": None}


def case_twin_tandem() -> dict:
    import twin

    stations = {
        f"s{i}": {
            "servers": 1,
            "service": {"dist": "exponential", "mean": TANDEM_SERVICE},
            "routing": {f"s{i + 1}": 1.0} if i < 5 else {},
        }
        for i in range(1, 6)
    }
    sc = twin.scenario_from_dict(
        {
            "meta": {"name": "tandem"},
            "clock": {"start": "2010-05-03 00:00", "horizon": TANDEM_CUSTOMERS / TANDEM_RATE, "drain": "1d"},
            "platform": {"stations": stations},
            "workload": {"sources": [{"name": "a", "enter": "s1", "rate": TANDEM_RATE}]},
            "outputs": {"report": False},
        }
    )
    res = twin.simulate(sc, seed=1)
    return {
        "wall_seconds": res.run["wall_seconds"],
        "customers": res.kpis["recipients"]["delivered"],
        "events": res.run["events_processed"],
    }


def _baseline(days: int) -> dict:
    import tempfile

    import twin

    t0 = time.perf_counter()
    sc = twin.load_scenario(ROOT / "scenarios" / "baseline.yaml", [f"clock.horizon={days}d"])
    res = twin.simulate(sc, seed=1)
    with tempfile.TemporaryDirectory(prefix="mailtwin-bench-") as out:
        res.save(out)
    return {
        "wall_seconds": res.run["wall_seconds"],
        "total_seconds": time.perf_counter() - t0,
        "messages_offered": res.kpis["messages_offered"],
        "customers": res.kpis["smtp"]["reached_data"],
        "events": res.run["events_processed"],
    }


def case_baseline_1d() -> dict:
    return _baseline(1)


def case_baseline_7d() -> dict:
    return _baseline(7)


def case_baseline_30d() -> dict:
    return _baseline(30)


TARGET_7D_WALL_S = 120.0  # issue 4, kept since
TARGET_7D_RSS_MB = 1024.0  # issue 9: the whole process, save and report included
TARGET_30D_RSS_MB = 1536.0
# The reference's median when the targets were set (docs/performance.md): the machine has been seen to
# run the same code three times slower on other days, so the 7-day figure is also shown at that speed.
REFERENCE_WHEN_SET_S = 6.43


CASES = {
    "reference": case_reference,
    "twin-tandem": case_twin_tandem,
    "baseline-1d": case_baseline_1d,
    "baseline-7d": case_baseline_7d,
    "baseline-30d": case_baseline_30d,
}
DEFAULT_CASES = ["reference", "twin-tandem", "baseline-1d", "baseline-7d"]


def run_one(name: str) -> dict:
    out = CASES[name]()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3, help="runs per case (median reported; default 3)")
    p.add_argument("--cases", nargs="+", choices=list(CASES), default=DEFAULT_CASES)
    p.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    p.add_argument("--one", choices=list(CASES), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one)))
        return 0

    results: dict[str, dict] = {}
    for name in args.cases:
        runs = []
        for i in range(args.repeat):
            print(f"  {name}: run {i + 1}/{args.repeat} ...", file=sys.stderr, flush=True)
            proc = subprocess.run(
                [sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True
            )
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0] if runs[0][k] is not None}
        med["runs"] = runs
        if med.get("events"):
            med["events_per_second"] = med["events"] / med["wall_seconds"]
        med["seconds_per_customer"] = med["wall_seconds"] / med["customers"]
        results[name] = med
    if "reference" in results:
        ref = results["reference"]["seconds_per_customer"]
        for r in results.values():
            r["ratio_to_reference"] = r["seconds_per_customer"] / ref
    doc = {
        "python": sys.version.split()[0],
        "machine": platform.platform(),
        "repeat": args.repeat,
        "cases": results,
    }
    from twin.io import write_text

    write_text(args.out, json.dumps(doc, indent=2) + "\n")
    head = ("case", "wall s", "total s", "offered", "DATA/cust.", "events/s", "peak MB", "x ref")
    print(f"{head[0]:<14}" + "".join(f"{h:>12}" for h in head[1:]))
    for name, r in results.items():
        eps = f"{r['events_per_second']:,.0f}" if "events_per_second" in r else "-"
        ratio = f"{r['ratio_to_reference']:.2f}" if "ratio_to_reference" in r else "-"
        offered = f"{r['messages_offered']:,.0f}" if "messages_offered" in r else "-"
        total = f"{r['total_seconds']:.2f}" if "total_seconds" in r else "-"
        print(
            f"{name:<14}{r['wall_seconds']:>12.2f}{total:>12}{offered:>12}{r['customers']:>12,.0f}{eps:>12}"
            f"{r['peak_rss_mb']:>12.0f}{ratio:>12}"
        )
    print(f"medians of {args.repeat} runs; written to {args.out}")
    week = results.get("baseline-7d")
    if week is not None:
        ok = week["wall_seconds"] <= TARGET_7D_WALL_S and week["peak_rss_mb"] <= TARGET_7D_RSS_MB
        print(
            f"7-day target (<= {TARGET_7D_WALL_S:.0f} s, <= {TARGET_7D_RSS_MB:.0f} MB): "
            f"{'met' if ok else 'NOT met'} ({week['wall_seconds']:.0f} s, {week['peak_rss_mb']:.0f} MB)"
        )
        if "reference" in results:
            scale = REFERENCE_WHEN_SET_S / results["reference"]["wall_seconds"]
            print(
                f"  at the speed of the machine the target was set on (reference {REFERENCE_WHEN_SET_S} s, "
                f"here {results['reference']['wall_seconds']:.2f} s): {week['wall_seconds'] * scale:.0f} s"
            )
    month = results.get("baseline-30d")
    if month is not None:
        ok = month["peak_rss_mb"] <= TARGET_30D_RSS_MB
        print(
            f"30-day target (<= {TARGET_30D_RSS_MB:.0f} MB): {'met' if ok else 'NOT met'} "
            f"({month['peak_rss_mb']:.0f} MB, {month['wall_seconds']:.0f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
