"""The ``mailtwin`` command. Exit codes: 0 success, 1 an expectation failed, 2 bad input."""

from __future__ import annotations

import argparse
import json
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

    t = sub.add_parser(
        "topology",
        help="list or draw the component graph of a scenario",
        description="Print the nodes and edges of SCENARIO's topology; --png draws it in layers.",
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
        return {"run": cmd_run, "validate": cmd_validate, "schema": cmd_schema, "topology": cmd_topology}[
            args.command
        ](args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
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
            f"horizon {_span(sc.clock.horizon)})"
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
    from twin.topology import build_topology, draw_topology

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
    if args.png:
        print(f"drawn to {args.png}")
    return EXIT_OK


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


if __name__ == "__main__":
    sys.exit(main())
