"""The executors side by side (docs/performance.md, "Experiments at scale"): the same runs through the local
pool and a Dask LocalCluster of as many single-threaded workers, and one run alone, wall-clock times and
medians of ``--repeat``; writes bench/executors.json.

    python bench/executors.py [--runs 8] [--workers 2] [--repeat 3] [--horizon 1h]

The runs are the baseline's Monday from 09:00 for ``--horizon`` on seeds 1..``--runs``, so the run time
per run is that of a real scenario, not of a toy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from twin.experiments.executor import DaskPool, LocalPool, in_order  # noqa: E402
from twin.scenario import load_scenario  # noqa: E402


def timed(pool, runs) -> float:
    started = time.perf_counter()
    results = in_order(pool, runs)
    wall = time.perf_counter() - started
    failed = [r["error"] for r in results if "error" in r]
    if failed:
        raise SystemExit(f"a run failed: {failed[0]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--horizon", default="1h")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    sc = load_scenario(
        HERE.parent / "scenarios" / "baseline.yaml",
        [
            "clock.start=2010-05-03T09:00:00+02:00",
            f"clock.horizon={args.horizon}",
            "clock.warmup=0s",
            "expect=[]",
        ],
    )
    runs = [(sc, s) for s in range(1, args.runs + 1)]
    out: dict = {"runs": args.runs, "workers": args.workers, "horizon": args.horizon}
    out["one run alone"] = [timed(LocalPool(1), runs[:1]) for _ in range(args.repeat)]
    out["local pool"] = [timed(LocalPool(args.workers), runs) for _ in range(args.repeat)]
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        Client(c) as client,
    ):
        pool = DaskPool(client)
        timed(pool, runs[: args.workers])  # the workers import mailtwin once: not part of the figure
        out["dask LocalCluster"] = [timed(pool, runs) for _ in range(args.repeat)]
    for key in ("one run alone", "local pool", "dask LocalCluster"):
        median = statistics.median(out[key])
        print(f"{key:<18} median {median:7.2f} s  runs {', '.join(f'{x:.2f}' for x in out[key])}")
        out[f"{key} median"] = median
    alone = out["one run alone median"]
    for key in ("local pool", "dask LocalCluster"):
        per_run = out[f"{key} median"] / args.runs * args.workers
        print(f"{key:<18} {per_run:.2f} s per run per worker ({per_run / alone:.2f} x a run alone)")
    (HERE / "executors.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
