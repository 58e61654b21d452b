"""The ``mailtwin`` command. Exit codes: 0 success, 1 an expectation failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_EXPECTATION, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors are bad input too: exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mailtwin",
        description="Discrete-event digital twin of the university mail platform (seed: IMT, 2010).",
        epilog="Exit codes: 0 success, 1 an expectation failed, 2 bad input. Docs: README.md and docs/.",
    )
    from twin import __version__

    p.add_argument("--version", action="version", version=f"mailtwin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def overrides(sp):
        sp.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="PATH=VALUE",
            help="override a scenario field, e.g. --set clock.horizon=2h (repeatable)",
        )

    r = sub.add_parser(
        "run",
        help="run a scenario and write its results",
        description="Run SCENARIO and write kpis.json, ledger.parquet, timeseries.parquet, "
        "scenario.resolved.yaml, run.json, report.html and plots/ into --out.",
    )
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--out", help="output folder (default: reports/<scenario file name>)")
    r.add_argument("--seed", type=int, default=0, help="root random seed (default 0)")
    overrides(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    r.add_argument("--json", action="store_true", help="print the KPIs as JSON instead of the summary table")

    v = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check each FILE; print one line per problem as FILE:LINE: field: what.",
    )
    v.add_argument("files", nargs="+", metavar="FILE")
    overrides(v)

    s = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    s.add_argument("--out", help="write to this file instead of standard output")

    q = sub.add_parser(
        "retry-schedule",
        help="preview Exim's retries for a destination that keeps failing",
        description="Attempts, next retry times, delay warnings and the bounce that mailtwin computes (with "
        "the code the simulation runs) for one message to a destination that fails on every attempt. The "
        "message arrives at 0 with an immediate delivery attempt; queue runs follow every --queue-interval.",
    )
    q.add_argument(
        "rules", help="Exim retry rules, e.g. 'F,2h,15m; G,16h,1h,1.5; F,4d,6h' (or a full line '* * F,...')"
    )
    q.add_argument("--queue-interval", default="30m", help="Exim -q<time> (default 30m)")
    q.add_argument("--delay-warning", default="24h", help="delay_warning, e.g. 24h or 4h:8h:24h; 0: off")
    q.add_argument(
        "--host-failing-since",
        metavar="DURATION",
        help="the host already failed once this long before the message arrived",
    )
    q.add_argument("--horizon", default="10d", help="stop looking after this long (default 10d)")
    q.add_argument(
        "--no-delay-after-cutoff", action="store_true", help="smtp transport delay_after_cutoff = false"
    )
    q.add_argument("--retry-interval-max", default="24h", help="Exim retry_interval_max (default 24h)")
    q.add_argument("--retry-data-expire", default="7d", help="Exim retry_data_expire (default 7d)")
    q.add_argument("--seed", type=int, default=0, help="seed for the random part of H rules (default 0)")
    q.add_argument("--json", action="store_true", help="machine-readable output")

    t = sub.add_parser(
        "topology",
        help="list or draw the component graph of a scenario",
        description="Print the nodes and edges of SCENARIO's topology and what each dependency does when "
        "it cannot be reached (marked where the model does not simulate it yet); --png draws it in layers.",
    )
    t.add_argument("scenario")
    t.add_argument("--png", metavar="FILE", help="draw the graph into this PNG file")
    t.add_argument("--json", action="store_true", help="print nodes and edges as JSON")
    overrides(t)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from twin.scenario import ScenarioError

    try:
        return COMMANDS[args.command](args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`mailtwin ... | head`): not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except KeyboardInterrupt:
        print("mailtwin: interrupted; nothing was written for the unfinished run", file=sys.stderr)
        return 130


def cmd_run(args) -> int:
    import twin

    sc = twin.load_scenario(args.scenario, args.overrides)
    if args.seed < 0:
        print(f"mailtwin: --seed must be >= 0 (got {args.seed})", file=sys.stderr)
        return EXIT_BAD_INPUT
    out = Path(args.out) if args.out else Path("reports") / Path(args.scenario).stem
    show = sys.stderr.isatty() and not args.no_progress
    bar = ProgressBar() if show else None
    res = twin.simulate(sc, seed=args.seed, progress=bar)
    if bar:
        bar.close()
    res.save(out, source=args.scenario)
    if args.json:
        print(json.dumps(res.kpis, indent=2))
    else:
        print(summary(res, out))
    return EXIT_OK


def cmd_validate(args) -> int:
    from twin.scenario import ScenarioError, load_scenario
    from twin.scenario.schema import instances

    status = EXIT_OK
    for f in args.files:
        try:
            sc = load_scenario(f, args.overrides)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(
            f"{f}: ok ({sc.meta.name}: {len(instances(sc.platform))} platform nodes, "
            f"{len(sc.platform.stations)} stations, {len(sc.workload.sources)} sources, "
            + (f"inbound {sc.workload.inbound.volume * 86400:,.0f}/day, " if sc.workload.inbound else "")
            + f"horizon {_span(sc.clock.horizon)})"
        )
    return status


def cmd_schema(args) -> int:
    from twin.io import write_text
    from twin.scenario.schema import Scenario

    text = json.dumps(Scenario.model_json_schema(by_alias=True), indent=2) + "\n"
    if args.out:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_topology(args) -> int:
    from twin.scenario import load_scenario
    from twin.topology import build_topology, dependencies, draw_topology

    sc = load_scenario(args.scenario, args.overrides)
    g = build_topology(sc)
    if args.png:
        draw_topology(g, args.png)
    if args.json:
        print(
            json.dumps(
                {
                    "nodes": [{"name": n, **{k: v for k, v in d.items()}} for n, d in g.nodes(data=True)],
                    "edges": [
                        {"from": u, "to": v, "kind": k, **d} for u, v, k, d in g.edges(keys=True, data=True)
                    ],
                    "dependencies": [
                        {"dependent": d.dependent, "on": d.on, "effect": d.effect, "modelled": d.modelled}
                        for d in dependencies(g)
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{'node':<16}{'class':<15}{'kind':<9}{'hardware':<34}{'cores':>6}{'speed':>7}  runs on")
    for n, d in g.nodes(data=True):
        print(
            f"{n:<16}{d['kind']:<15}{'physical' if d.get('physical', True) else 'VM':<9}"
            f"{(d.get('hardware') or '-'):<34}{d.get('cores', 0):>6}{d.get('speed', 0):>7.2f}"
            f"  {d.get('host') or ''}"
        )
    kinds: dict[str, int] = {}
    for _, _, k in g.edges(keys=True):
        kinds[k] = kinds.get(k, 0) + 1
    print(f"{g.number_of_nodes()} nodes; edges: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())))
    deps = dependencies(g)
    if deps:
        print("\ndependencies: what a class does while no instance of what it depends on can be reached")
        for d in deps:
            print(f"  {d.dependent} -> {d.on}: {d.effect}" + (f" [{d.note}]" if d.note else ""))
    if args.png:
        print(f"drawn to {args.png}")
    return EXIT_OK


def cmd_retry_schedule(args) -> int:
    from twin.exim.queue import parse_delay_warning, retry_schedule
    from twin.exim.retry import RetryConfigError, parse_retry_line
    from twin.sim.streams import Streams
    from twin.units import UnitError, format_duration, parse_duration

    try:
        line = parse_retry_line(args.rules)
        durations = {
            name: parse_duration(getattr(args, name))
            for name in ("queue_interval", "horizon", "retry_interval_max", "retry_data_expire")
        }
        since = parse_duration(args.host_failing_since) if args.host_failing_since is not None else None
        warnings = parse_delay_warning(args.delay_warning)
    except (RetryConfigError, UnitError) as exc:
        print(f"mailtwin retry-schedule: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if durations["queue_interval"] <= 0:
        print("mailtwin retry-schedule: --queue-interval must be positive", file=sys.stderr)
        return EXIT_BAD_INPUT
    sched = retry_schedule(
        line,
        durations["queue_interval"],
        warnings,
        host_failing_since=since,
        horizon=durations["horizon"],
        delay_after_cutoff=not args.no_delay_after_cutoff,
        retry_interval_max=durations["retry_interval_max"],
        retry_data_expire=durations["retry_data_expire"],
        rng=Streams(args.seed).generator("retry-schedule.H"),
    )
    if args.json:
        print(json.dumps(sched.as_json(), indent=2))
        return EXIT_OK
    remembered = since is not None and since <= durations["retry_data_expire"]
    first_failed = -since if remembered else 0.0
    print(f"retry rule: {sched.rule}; queue runs every {format_duration(sched.queue_interval)}")
    head = ("attempt", "at", "since first failure", "gap", "next try")
    print(f"{head[0]:>7}  {head[1]:>10}  {head[2]:>19}  {head[3]:>10}  {head[4]:>10}  rule in force")
    previous = None
    for i, (at, nxt) in enumerate(zip(sched.attempts, [*sched.next_try, None], strict=False), start=1):
        gap = "-" if previous is None else _clock(at - previous)
        shown_next = _clock(nxt) if nxt is not None else "-"
        print(
            f"{i:>7}  {_clock(at):>10}  {_clock(at - first_failed):>19}  {gap:>10}  {shown_next:>10}  "
            f"{_rule_at(line, at - first_failed)}"
        )
        previous = at
    for w in sched.delay_warnings:
        print(f"delay warning to the sender at {_clock(w)}")
    if sched.bounce is not None:
        print(
            f"bounce at {_clock(sched.bounce)}: {sched.bounce_reason} ({len(sched.attempts)} attempts, "
            f"{sched.skipped_runs} delivery runs skipped: retry time not reached)"
        )
    else:
        print(f"still deferred at the horizon ({len(sched.attempts)} attempts)")
    return EXIT_OK


def _clock(seconds: float) -> str:
    """Like exinext: days, hours and minutes."""
    minutes = round(seconds / 60)
    d, rest = divmod(minutes, 1440)
    h, m = divmod(rest, 60)
    return f"{d}d {h:02d}:{m:02d}" if d else f"{h:02d}:{m:02d}"


def _rule_at(line, failing: float) -> str:
    rule = next((r for r in line.rules if failing <= r.cutoff), None)
    return str(rule) if rule is not None else "past the final cutoff"


def summary(res, out: Path) -> str:
    rec = res.kpis["recipients"]
    offered = rec["offered"] or 1
    lines = [
        f"{res.scenario.meta.name}: seed {res.seed}, {_span(res.run['simulated_seconds'])} simulated, "
        f"{res.run['events_processed']:,} events in {res.run['wall_seconds']:.1f} s",
        f"{'state':<20}{'recipients':>12}{'share':>9}",
    ]
    for state, n in rec.items():
        if state == "offered" or n:
            lines.append(f"{state:<20}{n:>12,}{n / offered:>9.1%}")
    lines.append(f"conservation: {'ok' if res.kpis['conservation_ok'] else 'VIOLATED'}")
    busiest = sorted(res.kpis["components"].items(), key=lambda kv: -(kv[1]["utilisation"] or 0))[:5]
    if busiest:
        lines.append(
            "busiest: "
            + ", ".join(
                f"{n} {c['utilisation']:.0%} (peak {c['utilisation_peak']:.0%})"
                for n, c in busiest
                if c["utilisation"] is not None
            )
        )
    lines.append(f"results in {out}/ (report.html)")
    return "\n".join(lines)


def _span(seconds: float) -> str:
    return f"{seconds / 86400:g} d" if seconds >= 86400 else f"{seconds / 3600:g} h"


class ProgressBar:
    """Simulated time over horizon on stderr, redrawn in place."""

    def __init__(self, width: int = 30):
        self.width = width
        self.t0 = time.perf_counter()

    def __call__(self, now: float, end: float) -> None:
        frac = min(now / end, 1.0) if end else 1.0
        wall = time.perf_counter() - self.t0
        eta = wall / frac - wall if frac > 0 else 0.0
        filled = int(frac * self.width)
        unit, scale = ("d", 86400) if end >= 2 * 86400 else ("h", 3600)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {frac:6.1%}  "
            f"{now / scale:6.2f}/{end / scale:.2f} {unit} simulated  {wall:4.0f} s wall  eta {eta:4.0f} s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


COMMANDS = {
    "run": cmd_run,
    "validate": cmd_validate,
    "schema": cmd_schema,
    "topology": cmd_topology,
    "retry-schedule": cmd_retry_schedule,
}

if __name__ == "__main__":
    sys.exit(main())
