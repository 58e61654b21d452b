"""``mailtwin replicate``: independent replications of one scenario, and a confidence interval per KPI.

Each seed is an independent replication (the streams are keyed by path under the root seed, so seeds
share no draws). For every KPI named by a path of kpis.json (the expectations' syntax, e.g.
``delivery_latency.all.p95_s``): the mean over the runs and a Student-t interval at ``level``
(``analysis.statistics.confidence_interval``). With a ``precision`` the seeds are run in rounds of
``jobs`` until every KPI's half-width is within that share of its mean (a sequential stop, as JMT's), or
the seeds run out. Every run's statistics cover its own window from ``clock.warmup`` to the horizon, so
the warm-up is cut from each run, not from the pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.analysis.statistics import confidence_interval
from twin.scenario.expectations import ExpectationError, check_path, is_number, parse_path, resolve
from twin.scenario.schema import Scenario
from twin.units import format_duration

# What a planner asks first of a run of the baseline: how long mail takes, and whether the quality holds.
DEFAULT_KPIS = (
    "delivery_latency.all.mean_s",
    "delivery_latency.all.p95_s",
    "service_quality.replies_within_share",
    "service_quality.deliveries_within_share",
    "recipients.lost",
)
MIN_RUNS = 3  # before a sequential stop is considered: two runs give an interval too wide to trust


def kpi_paths(texts: list[str] | tuple[str, ...]) -> list[tuple]:
    """Each KPI path parsed and checked against kpis.json's blocks (ExpectationError names the bad one)."""
    paths = []
    for text in texts:
        try:
            path = parse_path(text)
            check_path(path)
        except ExpectationError as exc:
            raise ExpectationError(f"--kpi {text!r}: {exc}") from None
        paths.append(path)
    return paths


@dataclass
class Replicated:
    """The runs of one scenario and the estimate of each KPI over them."""

    kpis: list[str]
    level: float
    runs: dict[int, dict] = field(default_factory=dict)  # seed -> kpis.json, or {"error": ...}
    precision: float | None = None

    @property
    def errors(self) -> dict[int, str]:
        return {s: r["error"] for s, r in self.runs.items() if "error" in r}

    def by_seed(self, text: str) -> dict[int, float]:
        """The KPI's value in every run that has a number there, by seed (in seed order)."""
        path = parse_path(text)
        out = {}
        for seed in sorted(self.runs):
            if "error" in self.runs[seed]:
                continue
            found = resolve(self.runs[seed], path)
            if len(found) == 1 and is_number(found[0]):
                out[seed] = float(found[0])
        return out

    def values(self, text: str) -> list[float]:
        """The KPI's value in every run that has a number there, in seed order."""
        return list(self.by_seed(text).values())

    def estimates(self) -> list[dict]:
        """Per KPI: n, mean, half_width (null below 2 runs), relative, min, max, and whether it is within
        the precision asked for."""
        rows = []
        for text in self.kpis:
            xs = self.values(text)
            row: dict = {"kpi": text, "n": len(xs), "mean": None, "half_width": None, "relative": None}
            if xs:
                row.update(mean=sum(xs) / len(xs), min=min(xs), max=max(xs))
            if len(xs) >= 2:
                est = confidence_interval(xs, self.level)
                row.update(half_width=est.half_width, relative=_relative(est.half_width, est.mean))
            if self.precision is not None:
                row["within_precision"] = row["relative"] is not None and row["relative"] <= self.precision
            rows.append(row)
        return rows

    def precise(self) -> bool:
        rows = self.estimates()
        return all(r.get("within_precision", False) for r in rows) and all(r["n"] >= MIN_RUNS for r in rows)


def replicate_kpis(
    scenario: Scenario,
    seeds: list[int],
    kpis: list[str],
    level: float = 0.95,
    precision: float | None = None,
    jobs: int | None = None,
    progress=None,
    pool=None,
    folder=None,
    point=None,
) -> Replicated:
    """Run ``scenario`` on ``seeds`` in rounds of one run per worker (all of them, or with a ``precision``
    until every KPI is that precise) and estimate each KPI. ``progress(done, total)`` is called after
    each round. The runs go to ``pool`` (default: ``LocalPool(jobs)``); with an experiment ``folder`` they
    are saved there and runs it holds already are reused (``executor.execute``)."""
    from twin.experiments.executor import LocalPool, execute
    from twin.experiments.store import Point

    kpi_paths(kpis)
    pool = pool if pool is not None else LocalPool(jobs)
    point = point if point is not None else Point({}, [], scenario)
    out = Replicated(list(kpis), level, precision=precision)
    step = pool.workers  # rounds of one run per worker: progress, and a place to stop
    done = 0
    while done < len(seeds):
        size = step if out.runs or precision is None else max(step, MIN_RUNS)
        now = seeds[done : done + size]
        done += len(now)
        results = execute([point], now, pool, folder)
        for seed in now:
            out.runs[seed] = results[(point.id, seed)]
        if progress is not None:
            progress(done, len(seeds))
        if precision is not None and out.precise():
            break
    return out


def _relative(half: float, mean: float) -> float | None:
    return half / abs(mean) if mean else (0.0 if half == 0 else None)


def lines(rep: Replicated, scenario: Scenario) -> list[str]:
    """What the terminal shows: the runs, the window, then a line per KPI."""
    warmup, horizon = scenario.clock.warmup, scenario.clock.horizon
    ok = len(rep.runs) - len(rep.errors)
    out = [
        f"{ok} of {len(rep.runs)} runs (seeds {_seed_list(sorted(rep.runs))}); each run's statistics cover "
        f"{format_duration(warmup)} to {format_duration(horizon)} of its own clock (clock.warmup cut from "
        "every run); "
        f"{rep.level:.0%} Student-t intervals over the runs",
    ]
    width = max(len(k) for k in rep.kpis)
    for r in rep.estimates():
        if r["mean"] is None:
            out.append(f"  {r['kpi']:<{width}}  no value in any run")
            continue
        ci = "(one run: no interval)" if r["half_width"] is None else f"± {r['half_width']:.4g}"
        rel = "" if r["relative"] is None else f" ({r['relative']:.1%})"
        flag = ""
        if "within_precision" in r:
            flag = "" if r["within_precision"] else f"  NOT within {rep.precision:.1%}"
        out.append(
            f"  {r['kpi']:<{width}}  {r['mean']:.6g} {ci}{rel}  n={r['n']}  "
            f"[{r['min']:.6g} .. {r['max']:.6g}]{flag}"
        )
    for seed, error in rep.errors.items():
        out.append(f"  seed {seed}: error {error}")
    return out


def _seed_list(seeds: list[int]) -> str:
    if seeds and seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def parse_seeds(text: str) -> list[int]:
    """``N`` (seeds 1..N), ``A-B`` (A..B) or ``a,b,c``; each from 0 to 2**63-1, at most 100,000 of them."""
    items: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                a, b = (int(x, 10) for x in part.split("-", 1))
                if b < a:
                    raise ValueError
                if b - a >= 100_000:
                    raise ValueError
                items += range(a, b + 1)
            elif "," in text:
                items.append(int(part, 10))
            else:
                n = int(part, 10)
                if n < 1:
                    raise ValueError
                items += range(1, n + 1)
    except ValueError:
        raise ValueError(f"expected N, A-B or a,b,c with whole numbers (got {text!r})") from None
    if not items or len(items) > 100_000 or min(items) < 0 or max(items) > 2**63 - 1:
        raise ValueError(f"expected 1 to 100000 seeds from 0 to 2**63-1 (got {text!r})")
    if len(set(items)) != len(items):
        raise ValueError(f"a seed is named twice (got {text!r})")
    return items
