"""The ``mailtwin`` command. Exit codes: 0 success, 1 an expectation failed (expect: or conservation), 2 bad
input, 3 an internal error (a bug: ``--debug`` shows the traceback), 130/143 interrupted (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_EXPECTATION, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3
SEED_MAX = 2**63 - 1
MAX_QUEUE_RUNS = 1_000_000  # retry-schedule: queue runs it steps through before giving up


class Interrupted(BaseException):
    """SIGTERM, handled like SIGINT (KeyboardInterrupt)."""


# The interrupt (KeyboardInterrupt or Interrupted) that arrived during the command, until main has handled
# it. The signal handler raises it where the program happens to be; if that is a finaliser (a generator
# closed by the garbage collector: the light processes are generators), Python prints "Exception ignored"
# and carries on, so a long run polls this too (``_interruptible``).
_pending: list[type[BaseException]] = []


def _interruptible(bar: ProgressBar | None):
    """The progress callback of a run: raises an interrupt that was lost inside the run, then draws."""

    def progress(now: float, end: float) -> None:
        if _pending:
            raise _pending[0]
        if bar is not None:
            bar(now, end)

    return progress


def positive(text: str) -> int:
    """A whole number >= 1 (``--seeds``, ``--jobs``)."""
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 100000 (got {text!r})")
    return value


def duration(text: str) -> float:
    """A positive duration (``--at``, ``--duration``): 90s, 15m, 3h, 1d2h."""
    from twin.units import UnitError, parse_duration

    try:
        value = parse_duration(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not 0 < value <= 366 * 86400:
        raise argparse.ArgumentTypeError(f"must be a duration from 1s to 366d (got {text!r})")
    return value


def share(text: str) -> float:
    """A share strictly between 0 and 1, as 95% or 0.95 (``--level``, ``--precision``)."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1, as 95% or 0.95 (got {text!r})")
    return value


def seeds(text: str) -> list[int]:
    """``--seeds``: N (1..N), A-B or a,b,c."""
    from twin.experiments.estimates import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seed(text: str) -> int:
    """A ``--seed``: a whole number from 0 to 2**63-1."""
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 2**63-1 (got {text!r})")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors are bad input too: exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="mailtwin",
        description="Discrete-event digital twin of the university mail platform (seed: IMT, 2010).",
        epilog="Exit codes: 0 success, 1 an expectation failed (expect: or conservation), 2 bad input, 3 an "
        "internal error (--debug shows its traceback). Docs: README.md and docs/.",
    )
    p.add_argument("--debug", action="store_true", help="on an internal error, print its traceback")
    from twin import __version__

    p.add_argument("--version", action="version", version=f"mailtwin {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def force(sp):
        sp.add_argument(
            "--force",
            action="store_true",
            help="run (or accept) a scenario whose expected peak memory exceeds what this machine has",
        )

    def experiment(sp, kind, default_seeds: str, json_help: str, scenario: bool = True, kpis: bool = True):
        """What every experiment command takes: the scenario, seeds, KPIs, level, workers or a Dask
        cluster, the folder, --json, --set and --force."""
        if scenario:
            sp.add_argument("scenario", help="scenario YAML file, or the name of a shipped one (baseline)")
        sp.add_argument(
            "--seeds",
            type=seeds,
            default=seeds(default_seeds),
            metavar="SEEDS",
            help=f"N (1..N), A-B or a,b,c (default {default_seeds})",
        )
        sp.add_argument("--json", action="store_true", help=json_help)
        sp.set_defaults(kpis=None)
        if kpis:
            sp.add_argument(
                "--kpi",
                dest="kpis",
                action="append",
                metavar="PATH",
                help="a KPI, e.g. delivery_latency.all.p95_s (repeatable; default: latency, quality, lost)",
            )
        sp.add_argument("--level", type=share, default=0.95, help="confidence level (default 95%%)")
        sp.add_argument(
            "--jobs", type=positive, default=None, metavar="N", help="local worker processes (default: cores)"
        )
        sp.add_argument(
            "--dask",
            metavar="ADDRESS",
            help="run on this Dask scheduler (tcp://host:8786) instead of local workers",
        )
        where = (
            "keep the runs here"
            if kind is None
            else f"the experiment's folder (default reports/{kind}-SCENARIO)"
        )
        sp.add_argument(
            "--out",
            metavar="DIR",
            help=f"{where}: a Parquet dataset and experiment.json; a rerun reuses its runs",
        )
        overrides(sp)
        force(sp)

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
    r.add_argument("scenario", help="scenario YAML file, or the name of a shipped one (baseline)")
    r.add_argument("--out", help="output folder (default: reports/<scenario file name>)")
    r.add_argument("--seed", type=seed, default=0, help="root random seed, 0 to 2**63-1 (default 0)")
    overrides(r)
    force(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    r.add_argument("--json", action="store_true", help="print the KPIs as JSON instead of the summary table")

    v = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        description="Check each FILE; print one line per problem as FILE:LINE: field: what.",
    )
    v.add_argument(
        "files", nargs="+", metavar="FILE", help="scenario YAML files (or shipped names); each is reported"
    )
    overrides(v)
    force(v)

    s = sub.add_parser(
        "schema",
        help="print the JSON Schema of scenario files (for editors)",
        description="Print the JSON Schema of scenario files, for editors that complete and check YAML.",
    )
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
    q.add_argument("--seed", type=seed, default=0, help="seed for the random part of H rules (default 0)")
    q.add_argument("--json", action="store_true", help="machine-readable output")

    c = sub.add_parser(
        "check",
        help="run scenarios with their expectations on several seeds (for CI), optionally writing JUnit XML",
        description="Run every scenario file (folders: every *.yaml below them) on seeds 1..N in parallel "
        "worker processes and check its expectations (expect:) and the conservation law on every run; an "
        "expectation passes only if it holds on every seed. Prints a line per scenario and expectation. "
        "Exit 0: all hold; 1: some fail; 2: a scenario is invalid (the others still run).",
    )
    c.add_argument("paths", nargs="+", metavar="PATH", help="scenario files or folders of them")
    c.add_argument(
        "--seeds", type=positive, default=1, metavar="N", help="run each on seeds 1..N (default 1)"
    )
    c.add_argument(
        "--jobs", type=positive, default=None, metavar="N", help="worker processes (default: cores)"
    )
    c.add_argument("--junit", metavar="FILE", help="write JUnit XML (a testcase per expectation and seed)")
    c.add_argument("--out", metavar="DIR", help="write each run's kpis.json into DIR/<scenario>/seed-N.json")
    overrides(c)
    force(c)

    rp = sub.add_parser(
        "replicate",
        help="independent replications of a scenario: each KPI's mean and confidence interval",
        description="Run SCENARIO once per seed in parallel worker processes and print, for each KPI (a "
        "path of kpis.json, as in expect:), the mean over the runs with a Student-t confidence interval. "
        "With --precision the seeds run in rounds of --jobs until every KPI's half-width is within that "
        "share of its mean (or the seeds run out). Every run cuts its own warm-up (clock.warmup). Exit 0; "
        "1 if a run failed (its error is printed, the others count); 2 bad input (docs/experiments.md).",
    )
    rp.add_argument(
        "--precision", type=share, help="stop once every KPI's half-width is within this share, e.g. 5%%"
    )
    experiment(rp, None, "10", "print the estimates and the runs' errors as JSON")

    sw = sub.add_parser(
        "sweep",
        help="a grid over scenario fields, every point replicated: KPIs with intervals, a table and plots",
        description="Run SCENARIO at every combination of the --vary values (fields in the --set syntax), "
        "each on every seed, and print per KPI and point the mean with a Student-t interval. Writes the "
        "runs (a Parquet dataset), summary.csv, plots/KPI.png and experiment.json into --out; a rerun "
        "reuses the runs already there. Exit 0; 1 if a run failed; 2 bad input (docs/experiments.md).",
    )
    sw.add_argument(
        "--vary",
        dest="varies",
        action="append",
        required=True,
        metavar="PATH=v1,v2,...",
        help="a field and its values, e.g. workload.scale=1,1.5,2 (repeatable: the grid is the product)",
    )
    experiment(sw, "sweep", "5", "print the table as JSON")

    cp = sub.add_parser(
        "compare",
        help="two scenarios (or two --set lists) on the same seeds: KPI differences with paired intervals",
        description="Run A and B on the same seeds (common random numbers: docs/experiments.md says why "
        "that pairs them) and print per KPI the mean difference B - A with its paired Student-t interval, "
        "beside the wider interval independent runs would give. B defaults to A, so that one scenario "
        "with two --set lists (--a-set, --b-set) is compared. Exit 0; 1 if a run failed; 2 bad input.",
    )
    cp.add_argument("a", metavar="A", help="scenario A (file or shipped name)")
    cp.add_argument("b", metavar="B", nargs="?", help="scenario B (default: A)")
    cp.add_argument(
        "--a-set", action="append", default=[], metavar="PATH=VALUE", help="an override of A only"
    )
    cp.add_argument(
        "--b-set", action="append", default=[], metavar="PATH=VALUE", help="an override of B only"
    )
    experiment(cp, "compare", "10", "print the differences as JSON", scenario=False)

    ca = sub.add_parser(
        "capacity",
        help="the largest growth of a field at which every SLO holds, the bottleneck, and the same N-1",
        description="Search the largest factor by which --grow FIELD (e.g. workload.scale, which multiplies "
        "every arrival rate) can grow while every --slo (an expectation) holds at the far end of its "
        "interval over the seeds; every run covers the peak hours (--at, --duration). With --n-1, the same "
        "for each single node and ESX host down over those hours. Prints the table failure / max growth / "
        "bottleneck and writes capacity.md (that table first), capacity.json, experiment.json and the runs "
        "into --out. Exit 0; 1 if the SLOs fail even at the smallest factor or a run failed; 2 bad input.",
    )
    ca.add_argument(
        "--grow", required=True, metavar="FIELD", help="the field a factor multiplies, e.g. workload.scale"
    )
    ca.add_argument(
        "--slo",
        dest="slos",
        action="append",
        required=True,
        metavar="EXPR",
        help='a service level, e.g. "delivery_latency.all.p95_s <= 60s" (repeatable)',
    )
    ca.add_argument("--n-1", dest="n_1", action="store_true", help="also with each node and ESX host down")
    ca.add_argument(
        "--at", type=duration, default=9 * 3600.0, help="the window's start into the clock (default 9h)"
    )
    ca.add_argument("--duration", type=duration, default=2 * 3600.0, help="the window's length (default 2h)")
    ca.add_argument(
        "--tolerance", type=share, default=0.05, help="stop when the bracket is this narrow (default 5%%)"
    )
    experiment(ca, "capacity", "3", "print the results as JSON", kpis=False)

    f = sub.add_parser(
        "spof",
        help="single points of failure: from the graph, each confirmed by a short simulated outage",
        description="List every node and ESX host whose failure alone stops a route of the mail (inbound "
        "mail, deliveries into the mailboxes, bounces to the senders), from the graph (links, runs_on, "
        "depends_on with a simulated effect, redundancy), and confirm each by a short run of SCENARIO with "
        "its outage beside a fault-free run of the same hours (docs/failover.md). Exit 0 (a report), 2 bad "
        "input.",
    )
    f.add_argument("scenario", help="scenario YAML file, or the name of a shipped one (baseline)")
    f.add_argument(
        "--json", action="store_true", help="print a JSON list of {node, breaks, confirmed, effect}"
    )
    f.add_argument(
        "--at", type=duration, default=9 * 3600.0, help="when the outage starts, into the clock (default 9h)"
    )
    f.add_argument("--duration", type=duration, default=3 * 3600.0, help="the outage's length (default 3h)")
    f.add_argument("--seed", type=seed, default=1, help="the seed of the confirming runs (default 1)")
    f.add_argument(
        "--jobs", type=positive, default=None, metavar="N", help="worker processes (default: cores)"
    )
    f.add_argument("--no-confirm", action="store_true", help="the graph's candidates only, no simulation")
    overrides(f)

    sv = sub.add_parser(
        "sieve-test",
        help="run a Sieve script against a message, as the store does (like Pigeonhole's sieve-test)",
        description="Compile SCRIPT and run it against the RFC 5322 message in MESSAGE with the engine the "
        "store runs at stage 12: first the script's result (the actions it performed and whether the "
        "implicit keep applies, as Pigeonhole's sieve-test prints them), then the delivery for a mailbox "
        "with the given folders (a fileinto of a missing folder falls back to INBOX; vacation replies are "
        "suppressed for list, bulk, auto-submitted and system senders, with the reason). A script that "
        "does not compile prints SCRIPT:LINE: message for each error and exits 2. docs/sieve.md.",
    )
    sv.add_argument("script", help="the Sieve script file")
    sv.add_argument("message", help="the message file (RFC 5322)")
    sv.add_argument(
        "--from",
        dest="sender",
        metavar="ADDR",
        help="envelope sender (default: the message's Return-Path, Sender or From; '<>' for the null sender)",
    )
    sv.add_argument(
        "--to", dest="recipient", metavar="ADDR", help="envelope recipient (default: Envelope-To or first To)"
    )
    sv.add_argument(
        "--folders",
        default="",
        metavar="F1,F2,...",
        help="the folders the mailbox has besides INBOX (default: INBOX only)",
    )
    sv.add_argument("--json", action="store_true", help="machine-readable output")

    t = sub.add_parser(
        "topology",
        help="list or draw the component graph of a scenario",
        description="Print the nodes and edges of SCENARIO's topology and what each dependency does when "
        "it cannot be reached (marked where the model does not simulate it yet); --png draws it in layers.",
    )
    t.add_argument("scenario", help="scenario YAML file, or the name of a shipped one (baseline)")
    t.add_argument("--png", metavar="FILE", help="draw the graph into this PNG file")
    t.add_argument("--json", action="store_true", help="print nodes and edges as JSON")
    overrides(t)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    import signal

    from twin.io import OutputError
    from twin.scenario import ScenarioError

    def interrupt(signum, frame):
        _pending[:] = [Interrupted if signum == signal.SIGTERM else KeyboardInterrupt]
        raise _pending[0]

    previous = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGINT)}
    _pending.clear()
    try:
        return COMMANDS[args.command](args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OutputError, _BadInput) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # The reader went away (`mailtwin ... | head`): not an error of ours.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return EXIT_OK
    except (KeyboardInterrupt, Interrupted) as exc:
        what = "SIGTERM" if isinstance(exc, Interrupted) else "interrupted"
        out = getattr(args, "out_folder", None)
        kept = f"; {out} was left as it was" if out is not None else ""
        print(f"mailtwin: {what}{kept}", file=sys.stderr)
        return 143 if isinstance(exc, Interrupted) else 130
    except MemoryError:
        print("mailtwin: out of memory (see docs/performance.md, 'Memory estimate')", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        else:
            where = _where(exc)
            print(
                f"mailtwin: internal error: {type(exc).__name__}: {_first_line(exc)}{where} -- a bug; "
                "rerun with --debug for the traceback and report it",
                file=sys.stderr,
            )
        return EXIT_INTERNAL
    finally:
        _pending.clear()
        for s, handler in previous.items():
            signal.signal(s, handler)


def entry() -> None:
    """The ``mailtwin`` command and ``python -m twin``: ``main``'s code as the exit status. After an
    interrupt the process leaves at once (streams flushed), without the interpreter's finalisation: an
    interrupt still pending there turns the documented 130/143 into death by the signal (status -2)."""
    code = main()
    if code in (130, 143):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _where(exc: BaseException) -> str:
    """`` at FILE:LINE`` of the innermost frame in mailtwin's own code."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{os.sep}twin{os.sep}" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f" at twin{f.filename.rsplit(f'{os.sep}twin', 1)[1]}:{f.lineno}"


def cmd_run(args) -> int:
    import twin
    from twin.io import OutputError, ResultsFolder, reason
    from twin.scenario.footprint import check_footprint

    sc = twin.load_scenario(args.scenario, args.overrides)
    if not args.force:
        check_footprint(sc, args.scenario)
    out = args.out if args.out is not None else Path("reports") / Path(args.scenario).stem
    # The results folder is checked and locked before the run: a bad --out costs no simulation.
    with ResultsFolder(out) as folder:
        out = folder.out
        args.out_folder = out
        show = sys.stderr.isatty() and not args.no_progress
        bar = ProgressBar() if show else None
        res = twin.simulate(sc, seed=args.seed, progress=_interruptible(bar), force=True)
        if bar:
            bar.close()
        res.run["source"] = str(args.scenario)
        res.run["overrides"] = list(args.overrides)
        res.run["command"] = shlex.join(["mailtwin", *args.argv])
        if show:
            sys.stderr.write(f"writing {out}/ ...\n")
        try:
            res.write(folder.staging, source=args.scenario)
            folder.commit()
        except OSError as exc:  # a full disk, a quota: the old folder stays as it was
            raise OutputError(
                f"--out {out}: cannot write the results ({reason(exc)}); it was left as it was"
            ) from None
        args.out_folder = None  # written: an interrupt from here on leaves the new results
    if args.json:
        print(json.dumps(res.kpis, indent=2))
    else:
        print(summary(res, out))
    return EXIT_OK if res.kpis["conservation_ok"] and res.kpis["expectations_ok"] else EXIT_EXPECTATION


def cmd_validate(args) -> int:
    """Check every file (one bad file does not stop the others); the same checks as ``run``."""
    from twin.scenario import ScenarioError, load_scenario
    from twin.scenario.footprint import check_footprint
    from twin.scenario.schema import instances

    status = EXIT_OK
    for f in args.files:
        try:
            sc = load_scenario(f, args.overrides)
            fp = check_footprint(sc, f, available=float("inf") if args.force else None)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = EXIT_BAD_INPUT
            continue
        print(
            f"{f}: ok ({sc.meta.name}: {len(instances(sc.platform))} platform nodes, "
            f"{len(sc.platform.stations)} stations, {len(sc.workload.sources)} sources, "
            + (f"inbound {sc.workload.inbound.volume * 86400:,.0f}/day, " if sc.workload.inbound else "")
            + f"horizon {_span(sc.clock.horizon)}, expected peak memory {fp.peak_bytes / 1e6:,.0f} MB)"
        )
    return status


def cmd_schema(args) -> int:
    from twin.io import check_output_file, write_text
    from twin.scenario.schema import Scenario

    if args.out is not None:
        check_output_file("--out", args.out)
    schema = Scenario.model_json_schema(by_alias=True)
    schema["properties"] = {
        "extends": {
            "type": "string",
            "description": "a scenario this one extends (a path relative to this file, or a shipped "
            "scenario's name): its sections are merged under this file's (docs/scenarios.md)",
        },
        **schema["properties"],
    }
    text = json.dumps(schema, indent=2) + "\n"
    if args.out is not None:
        write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_check(args) -> int:
    from twin.experiments.check import check, junit, lines
    from twin.io import ResultsFolder, atomic_path, check_output_file, write_text

    if args.junit is not None:
        check_output_file("--junit", args.junit)
    folder = ResultsFolder(args.out).open() if args.out is not None else None
    try:
        checked = check(args.paths, args.seeds, args.jobs, args.overrides, args.force)
        for line in lines(checked):
            print(line)
        if args.junit is not None:
            tree = junit(checked)
            with atomic_path(args.junit) as tmp:
                tree.write(tmp, encoding="utf-8", xml_declaration=True)
        if folder is not None:
            for c in checked:
                for seed, kpis in c.runs.items():
                    where = folder.staging.joinpath(*_inside(c.name)) / f"seed-{seed}.json"
                    write_text(where, json.dumps(kpis, indent=2) + "\n")
            folder.commit()
    finally:
        if folder is not None:
            folder.close()
    if any(c.problems for c in checked):
        return EXIT_BAD_INPUT
    return EXIT_OK if all(c.ok for c in checked) else EXIT_EXPECTATION


def _inside(name: str) -> tuple[str, ...]:
    """A scenario file's path without its suffix, as folders inside --out (never above it)."""
    return tuple(p for p in Path(name).with_suffix("").parts if p not in ("/", "..", ".")) or ("scenario",)


def _kpis(args, command: str) -> list[str] | None:
    """The --kpi list (default: ``estimates.DEFAULT_KPIS``), or None after saying which one is bad."""
    from twin.experiments.estimates import DEFAULT_KPIS, kpi_paths
    from twin.scenario.expectations import ExpectationError

    kpis = args.kpis or list(DEFAULT_KPIS)
    try:
        kpi_paths(kpis)
    except ExpectationError as exc:
        print(f"mailtwin {command}: {exc}", file=sys.stderr)
        return None
    return kpis


def _loaded(args, path: str, overrides: list[str]):
    from twin.scenario import load_scenario
    from twin.scenario.footprint import check_footprint

    scenario = load_scenario(path, overrides)
    if not args.force:
        check_footprint(scenario, path)
    return scenario


@contextlib.contextmanager
def _experiment(args, name: str | None):
    """The executor (``--dask`` or ``--jobs``) and the experiment folder (``--out``, locked; None without
    one) for the command's runs. A Dask address nobody answers at is bad input."""
    from twin.experiments.executor import DaskError, executor
    from twin.experiments.store import ExperimentFolder

    folder = ExperimentFolder(args.out, name).open() if args.out is not None else None
    try:
        try:
            pool = executor(args.jobs, args.dask)
        except DaskError as exc:
            raise _BadInput(str(exc)) from None
        try:
            yield pool, folder
        finally:
            pool.close()
    finally:
        if folder is not None:
            folder.close()


class _BadInput(ValueError):
    """A command's bad input found after parsing: ``str()`` is the line to print (exit 2)."""


def _progress(args):
    def progress(done: int, total: int, reused: int = 0) -> None:
        if _pending:
            raise _pending[0]
        if not args.json:
            again = f" ({reused} reused from {args.out})" if reused else ""
            print(f"  {done} of {total} runs done{again}", file=sys.stderr)

    return progress


def cmd_replicate(args) -> int:
    from twin.experiments.estimates import lines, replicate_kpis
    from twin.experiments.store import Point

    kpis = _kpis(args, "replicate")
    if kpis is None:
        return EXIT_BAD_INPUT
    scenario = _loaded(args, args.scenario, args.overrides)
    point = Point({}, list(args.overrides), scenario)
    with _experiment(args, f"replicate-{Path(args.scenario).stem}") as (pool, folder):
        if folder is not None:
            folder.write_manifest(
                "replicate", args.scenario, [point], args.seeds, kpis=kpis, executor=str(pool)
            )
        rep = replicate_kpis(
            scenario,
            args.seeds,
            kpis,
            args.level,
            args.precision,
            args.jobs,
            _progress(args),
            pool,
            folder,
            point,
        )
    if args.json:
        out = {"level": rep.level, "precision": rep.precision, "seeds": sorted(rep.runs)}
        out |= {"estimates": rep.estimates(), "errors": {str(k): v for k, v in rep.errors.items()}}
        print(json.dumps(out, indent=2))
    else:
        for line in lines(rep, scenario):
            print(line)
    return EXIT_EXPECTATION if rep.errors else EXIT_OK


def cmd_sweep(args) -> int:
    from twin.experiments import sweep
    from twin.io import atomic_path

    kpis = _kpis(args, "sweep")
    if kpis is None:
        return EXIT_BAD_INPUT
    try:
        varies = [sweep.parse_vary(v) for v in args.varies]
    except ValueError as exc:
        print(f"mailtwin sweep: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if len({v.path for v in varies}) != len(varies):
        print("mailtwin sweep: --vary names a field twice", file=sys.stderr)
        return EXIT_BAD_INPUT
    points = sweep.grid(args.scenario, list(args.overrides), varies)
    if not args.force:
        _loaded(
            args, args.scenario, points[-1].overrides
        )  # the footprint of the largest point, as given last
    name = f"sweep-{Path(args.scenario).stem}"
    args.out = args.out if args.out is not None else str(Path("reports") / name)
    with _experiment(args, name) as (pool, folder):
        folder.write_manifest(
            "sweep", args.scenario, points, args.seeds, kpis=kpis, vary=args.varies, executor=str(pool)
        )
        swept = sweep.sweep(points, args.seeds, kpis, args.level, pool, folder, _progress(args))
        frame = sweep.table(swept)
        with atomic_path(folder.out / "summary.csv") as tmp:
            frame.to_csv(tmp, index=False)
        plots = sweep.plot(frame, varies, args.level, folder.out / "plots")
    if args.json:
        print(frame.to_json(orient="records", indent=2))
    else:
        for line in sweep.lines(swept, args.level):
            print(line)
        print(
            f"wrote {folder.out}/summary.csv, {len(plots)} plots in {folder.out}/plots/, experiment.json and "
            f"the runs ({folder.out}/runs/)"
        )
    return EXIT_EXPECTATION if any(rep.errors for _, rep in swept) else EXIT_OK


def cmd_compare(args) -> int:
    from twin.experiments.compare import compare, lines
    from twin.experiments.store import Point

    kpis = _kpis(args, "compare")
    if kpis is None:
        return EXIT_BAD_INPUT
    b_path = args.b if args.b is not None else args.a
    sides = []
    for path, own in ((args.a, args.a_set), (b_path, args.b_set)):
        sets = [*args.overrides, *own]
        label = " ".join([path, *(f"--set {x}" for x in own)])
        sides.append(Point({"side": label}, sets, _loaded(args, path, sets)))
    if sides[0].sha256 == sides[1].sha256:
        print(
            "mailtwin compare: A and B are the same scenario (give B, or --a-set / --b-set)", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    name = f"compare-{Path(args.a).stem}"
    args.out = args.out if args.out is not None else str(Path("reports") / name)
    with _experiment(args, name) as (pool, folder):
        folder.write_manifest("compare", args.a, sides, args.seeds, kpis=kpis, b=b_path, executor=str(pool))
        c = compare(sides[0], sides[1], args.seeds, kpis, args.level, pool, folder, _progress(args))
    if args.json:
        out = {"a": c.labels[0], "b": c.labels[1], "level": args.level, "differences": c.rows()}
        out["errors"] = {side: {str(k): v for k, v in e.items()} for side, e in c.errors.items()}
        print(json.dumps(out, indent=2))
    else:
        for line in lines(c):
            print(line)
    return EXIT_EXPECTATION if any(c.errors.values()) else EXIT_OK


def cmd_capacity(args) -> int:
    from twin.experiments import capacity as cap
    from twin.io import write_text
    from twin.scenario.expectations import ExpectationError

    try:
        slos = cap.parse_slos(args.slos)
    except ExpectationError as exc:
        print(f"mailtwin capacity: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    scenario = _loaded(args, args.scenario, args.overrides)
    horizon = scenario.clock.horizon
    if args.at - cap.LEAD < 0 or args.at + args.duration > horizon:
        print(
            f"mailtwin capacity: --at {args.at:g}s --duration {args.duration:g}s: the window must lie in the "
            f"scenario's clock ({cap.LEAD:g}s of warm-up before it, {horizon:g}s in all)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        base = cap.base_value(args.scenario, args.overrides, args.grow)
    except ValueError as exc:
        print(f"mailtwin capacity: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    window = cap.window(args.scenario, list(args.overrides), args.at, args.duration)
    cases: list[str | None] = [None]
    if args.n_1:
        cases += cap.failures(args.scenario, list(args.overrides))
    name = f"capacity-{Path(args.scenario).stem}"
    args.out = args.out if args.out is not None else str(Path("reports") / name)
    where = cap.describe_window(args.scenario, list(args.overrides), args.at, args.duration)
    if not args.json:
        print(f"{where}; {len(args.seeds)} seeds per step; {args.level:.0%} intervals", file=sys.stderr)
    limits = []
    with _experiment(args, name) as (pool, folder):

        def progress(case):
            def said(factor: float, holds: bool) -> None:
                if _pending:
                    raise _pending[0]
                if not args.json:
                    verdict = "holds" if holds else "fails"
                    print(f"  {case or 'all up'}: x{factor:.4g} {verdict}", file=sys.stderr)

            return said

        def fits(point) -> str | None:
            """Why a grown point cannot run here: one run per local worker must fit the memory."""
            from twin.experiments.executor import LocalPool
            from twin.scenario import ScenarioError
            from twin.scenario.footprint import available_memory, check_footprint

            if args.force or not isinstance(pool, LocalPool):
                return None
            try:
                check_footprint(point.scenario, args.scenario, available_memory() / pool.workers)
            except ScenarioError as exc:
                return f"{exc.problems[0].message} ({pool.workers} at once)"
            return None

        points = []
        for case in cases:
            point_at = cap.point_maker(args.scenario, window, args.grow, base, case, args.duration)
            first = limits[0] if limits else None  # the search without a failure bounds the others
            if first is not None and first.limit is None:
                lim = cap.Limit(case, None, first.above, "the platform fails its SLOs without a failure")
            else:
                lim = cap.search(
                    point_at,
                    slos,
                    args.seeds,
                    args.level,
                    pool,
                    folder,
                    args.tolerance,
                    start=first.limit if first is not None else 1.0,
                    known_failing=first.above if first is not None else None,
                    progress=progress(case),
                    fits=fits,
                )
            lim.failure = case
            limits.append(lim)
            points += [point_at(s.factor) for s in lim.steps]
            folder.write_manifest(
                "capacity",
                args.scenario,
                points,
                args.seeds,
                grow=args.grow,
                slos=args.slos,
                window={"at_s": args.at, "duration_s": args.duration},
                executor=str(pool),
            )
        report = cap.report(limits, args.grow, args.slos, args.seeds, args.level, where)
        write_text(folder.out / "capacity.md", report)
        write_text(
            folder.out / "capacity.json", json.dumps([lim.as_dict() for lim in limits], indent=2) + "\n"
        )
    if args.json:
        print(json.dumps([lim.as_dict() for lim in limits], indent=2))
    else:
        for line in cap.table(limits):
            print(line)
        print(f"wrote {folder.out}/capacity.md, capacity.json, experiment.json and the runs")
    failed = limits[0].limit is None or any(s.rep.errors for lim in limits for s in lim.steps)
    return EXIT_EXPECTATION if failed else EXIT_OK


def cmd_spof(args) -> int:
    from twin.experiments.spof import lines, spof

    found = spof(
        args.scenario, args.overrides, args.at, args.duration, args.seed, args.jobs, not args.no_confirm
    )
    if args.json:
        print(json.dumps([p.as_dict() for p in found], indent=2))
    else:
        for line in lines(found):
            print(line)
    return EXIT_OK


def cmd_topology(args) -> int:
    from twin.io import check_output_file
    from twin.scenario import load_scenario
    from twin.topology import build_topology, dependencies, draw_topology

    if args.png is not None:
        check_output_file("--png", args.png)
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
    import math

    from twin.exim.queue import parse_delay_warning, retry_schedule
    from twin.exim.retry import RetryConfigError, parse_retry_line
    from twin.sim.streams import Streams
    from twin.units import UnitError, format_duration, parse_duration

    def fail(message: str) -> int:
        print(f"mailtwin retry-schedule: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        line = parse_retry_line(args.rules)
    except RetryConfigError as exc:
        return fail(str(exc))
    durations: dict[str, float] = {}
    for name in (
        "queue_interval",
        "horizon",
        "retry_interval_max",
        "retry_data_expire",
        "host_failing_since",
    ):
        value = getattr(args, name)
        if value is None:
            continue
        option = "--" + name.replace("_", "-")
        try:
            durations[name] = parse_duration(value)
        except UnitError as exc:
            return fail(f"{option}: {exc}")
        if durations[name] < 0 or (durations[name] == 0 and name != "host_failing_since"):
            return fail(f"{option}: must be positive (got {value!r})")
    try:
        warnings = parse_delay_warning(args.delay_warning)
    except RetryConfigError as exc:
        return fail(f"--delay-warning {args.delay_warning}: {exc}")
    runs = durations["horizon"] / durations["queue_interval"]
    if runs > MAX_QUEUE_RUNS:
        return fail(
            f"--queue-interval {args.queue_interval}: {runs:,.0f} queue runs before the horizon "
            f"({format_duration(durations['horizon'])}); at most {MAX_QUEUE_RUNS:,}: give at least "
            f"{format_duration(math.ceil(durations['horizon'] / MAX_QUEUE_RUNS))}"
        )
    since = durations.get("host_failing_since")
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
    for e in res.kpis["expectations"]:
        lines.append(f"expect {e['expect']}: {'ok' if e['ok'] else 'FAILED'} (value {_shown(e['value'])})")
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
    for name, o in (res.kpis.get("oracle") or {}).items():
        for warning in o["warnings"]:
            lines.append(f"oracle: {name}: {warning}")
    lines.append(f"results in {out}/ (report.html)")
    return "\n".join(lines)


def _shown(value) -> str:
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value) if isinstance(value, list | bool | str) else str(value)


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


def cmd_sieve_test(args) -> int:
    from twin.sieve import Message, compile_script, deliver
    from twin.sieve.report import dry_run_text, result_json

    def fail(message: str) -> int:
        print(f"mailtwin sieve-test: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    try:
        text = Path(args.script).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return fail(f"{args.script}: cannot read the script: {getattr(exc, 'strerror', None) or exc}")
    try:
        raw = Path(args.message).read_bytes()
    except OSError as exc:
        return fail(f"{args.message}: cannot read the message: {exc.strerror}")
    script = compile_script(text, args.script)
    if not script.ok:
        if args.json:
            print(json.dumps(result_json(script, None, None), indent=2))
        for error in script.errors:
            print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    sender = "" if args.sender == "<>" else args.sender
    message = Message.parse(raw, sender, args.recipient)
    folders = [f.strip() for f in args.folders.split(",") if f.strip()]
    result = script.run(message)
    delivery = deliver(result, message, folders)
    if args.json:
        print(json.dumps(result_json(script, result, delivery, message), indent=2))
    else:
        for warning in script.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(dry_run_text(script, result, message, delivery, folders))
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "validate": cmd_validate,
    "schema": cmd_schema,
    "topology": cmd_topology,
    "check": cmd_check,
    "replicate": cmd_replicate,
    "sweep": cmd_sweep,
    "compare": cmd_compare,
    "capacity": cmd_capacity,
    "spof": cmd_spof,
    "retry-schedule": cmd_retry_schedule,
    "sieve-test": cmd_sieve_test,
}

if __name__ == "__main__":
    entry()
