"""``mailtwin capacity``: how far a field can grow before a service level breaks, what breaks first, and
the same with each single node (or ESX host) down for the peak hours (N-1).

**The window.** Every run covers the peak hours: the scenario's clock moved to start ``at - LEAD`` (LEAD
cut as warm-up) and to run ``LEAD + duration`` (plus the scenario's drain), so a search of many runs at
growing load stays affordable and its statistics are those of the hours that matter.

**Holds with confidence.** A factor passes when every SLO (an expectation, ``delivery_latency.all.p95_s
<= 60s``) holds for the far end of its KPI's interval over the seeds: the upper end for ``<``/``<=``, the
lower for ``>``/``>=`` (``level``, 95 % by default). A run that fails fails the factor.

**The search.** From factor 1 the factor doubles until a step fails (or halves until one passes), then
bisects between the last passing and the first failing factor until they are within ``tolerance`` of each
other. The limit is the largest passing factor; the bottleneck is the resource (a component's CPU or
disk) that is busiest at the first failing factor, beside its utilisation at the limit.

**N-1.** For each node of the topology that can fail (not the Internet or the internal senders) and each
ESX host, the same search with an outage of it over the whole window. A failure only takes capacity away,
so its limit is at most the limit without it: its search starts at that limit (one step if the failure
does not matter there) and bisects below it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from twin.analysis.statistics import confidence_interval
from twin.experiments.estimates import Replicated
from twin.experiments.executor import execute
from twin.experiments.store import Point
from twin.scenario import load_scenario
from twin.scenario.expectations import Expectation, ExpectationError, parse_expectation
from twin.units import format_duration

LEAD = 1800.0  # each run starts this long before the window and cuts it as warm-up
MAX_FACTOR = 64.0
MIN_FACTOR = 1 / 16  # below this a platform that fails is broken, not short of capacity
NOT_FAILURES = ("internet", "internal")  # node kinds that stand for the outside, not for a box


def parse_slos(texts: list[str]) -> list[Expectation]:
    """Each SLO parsed as an expectation; only orderings (< <= > >=) bound a growth."""
    out = []
    for text in texts:
        try:
            slo = parse_expectation(text)
        except ExpectationError as exc:
            raise ExpectationError(f"--slo {text!r}: {exc}") from None
        if slo.op in ("==", "!="):
            raise ExpectationError(f"--slo {text!r}: a service level is a bound (< <= > >=), not {slo.op}")
        out.append(slo)
    return out


def kpi_of(slo: Expectation) -> str:
    """The KPI path an SLO bounds, as written."""
    return slo.text[: slo.text.index(slo.op)].strip()


@dataclass
class Step:
    factor: float
    rep: Replicated
    holds: bool
    why: list[str]  # the SLOs (or runs) that failed, with the bound that failed them


@dataclass
class Limit:
    failure: str | None  # the node or ESX host down, None for the platform whole
    limit: float | None  # the largest factor that held (None: not even MIN_FACTOR)
    above: float | None  # the smallest factor that failed (None: held up to MAX_FACTOR)
    bottleneck: str = ""
    steps: list[Step] = field(default_factory=list)
    ceiling: str = ""  # why no larger factor was tried (it would not fit this machine), if so

    def as_dict(self) -> dict:
        return {
            "failure": self.failure,
            "max_growth": self.limit,
            "first_failing": self.above,
            "bottleneck": self.bottleneck,
            "ceiling": self.ceiling or None,
            "steps": [{"factor": s.factor, "holds": s.holds, "why": s.why} for s in self.steps],
        }


def judge(rep: Replicated, slos: list[Expectation], level: float) -> tuple[bool, list[str]]:
    """Whether every SLO holds at the far end of its interval, and the reasons where not."""
    why = [f"seed {s}: {e}" for s, e in rep.errors.items()]
    for slo in slos:
        xs = rep.values(kpi_of(slo))
        if len(xs) < 2:
            why.append(f"{slo.text}: fewer than 2 runs have a value")
            continue
        est = confidence_interval(xs, level)
        far = est.mean + est.half_width if slo.op in ("<", "<=") else est.mean - est.half_width
        if not slo.holds(far):
            why.append(f"{slo.text}: {est.mean:.4g} ± {est.half_width:.3g}")
    return not why, why


def search(
    point_at: Callable[[float], Point],
    slos: list[Expectation],
    seeds: list[int],
    level: float,
    pool,
    folder=None,
    tolerance: float = 0.05,
    start: float = 1.0,
    known_failing: float | None = None,
    progress=None,
    fits: Callable[[Point], str | None] | None = None,
) -> Limit:
    """The largest factor at which every SLO holds (module docstring), from ``start``; ``known_failing``
    is a factor known to fail (the limit without a failure, for an N-1 search). ``fits(point)`` says why
    a point cannot run here (its expected memory), or None: the growth stops below such a factor."""
    steps: list[Step] = []
    ceiling = ""

    def step(f: float) -> bool:
        point = point_at(f)
        results = execute([point], seeds, pool, folder)
        rep = Replicated([kpi_of(s) for s in slos], level)
        rep.runs = {s: results[(point.id, s)] for s in seeds}
        holds, why = judge(rep, slos, level)
        steps.append(Step(f, rep, holds, why))
        if progress is not None:
            progress(f, holds)
        return holds

    lo: float | None = None
    hi: float | None = known_failing
    f = start
    if step(f):
        lo = f
        while hi is None and f < MAX_FACTOR:
            f = min(2 * f, MAX_FACTOR)
            why = fits(point_at(f)) if fits is not None else None
            if why is not None:
                ceiling = f"x{f:.4g} not run: {why}"
                break
            if step(f):
                lo = f
            else:
                hi = f
    else:
        hi = f
        while lo is None and f > MIN_FACTOR:
            f = max(f / 2, MIN_FACTOR)
            if step(f):
                lo = f
            else:
                hi = f
    while lo is not None and hi is not None and (hi - lo) / lo > tolerance:
        mid = (lo + hi) / 2
        if step(mid):
            lo = mid
        else:
            hi = mid
    out = Limit(None, lo, hi, steps=steps, ceiling=ceiling)
    out.bottleneck = _bottleneck(steps, lo, hi)
    if ceiling:
        out.bottleneck = f"{out.bottleneck}; {ceiling}"
    return out


def _bottleneck(steps: list[Step], lo: float | None, hi: float | None) -> str:
    """The busiest resource at the first failing factor, and its utilisation there and at the limit."""
    at = {s.factor: s for s in steps}
    failing = at.get(hi) if hi is not None else None
    passing = at.get(lo) if lo is not None else None
    if failing is None and passing is None:
        return ""
    if passing is None:
        return f"the SLOs fail at any load: {'; '.join(failing.why)}"
    ref = failing if failing is not None else passing
    name, u = _mean_bottleneck(ref.rep)
    if name == "none":
        return "no resource measured"
    text = f"{name} {u:.0%}"
    if failing is not None and passing is not None:
        text += f" (at the limit: {_mean_utilisation(passing.rep, name):.0%})"
    return text


def _mean_bottleneck(rep: Replicated) -> tuple[str, float]:
    """The resource busiest on average over the runs of a step."""
    totals: dict[str, list[float]] = {}
    for result in rep.runs.values():
        if "error" in result:
            continue
        for name, c in (result.get("components") or {}).items():
            for key, what in (("utilisation", "CPU"), ("disk_utilisation", "disk")):
                u = c.get(key)
                if isinstance(u, int | float):
                    totals.setdefault(f"{name} {what}", []).append(float(u))
    if not totals:
        return "none", 0.0
    name = max(totals, key=lambda k: sum(totals[k]) / len(totals[k]))
    return name, sum(totals[name]) / len(totals[name])


def _mean_utilisation(rep: Replicated, resource: str) -> float:
    name, what = resource.rsplit(" ", 1)
    key = "utilisation" if what == "CPU" else "disk_utilisation"
    xs = [
        r["components"][name][key] for r in rep.runs.values() if "error" not in r and name in r["components"]
    ]
    return sum(xs) / len(xs) if xs else 0.0


def window(scenario_path: str, overrides: list[str], at: float, duration: float) -> list[str]:
    """The --set list that moves the scenario's clock onto the window (module docstring)."""
    sc = load_scenario(scenario_path, overrides)
    start = (sc.clock.t0 + dt.timedelta(seconds=at - LEAD)).isoformat()
    return [
        *overrides,
        f"clock.start={start}",
        f"clock.horizon={LEAD + duration}s",
        f"clock.warmup={LEAD}s",
        "expect=[]",
    ]


def failures(scenario_path: str, overrides: list[str]) -> list[str]:
    """What N-1 takes down one at a time: every node of the topology but the outside, and the ESX hosts."""
    from twin.topology import build_topology

    g = build_topology(load_scenario(scenario_path, overrides))
    return [n for n, d in g.nodes(data=True) if d.get("kind") not in NOT_FAILURES]


def point_maker(
    scenario_path: str, overrides: list[str], grow: str, base: float, failure: str | None, duration: float
) -> Callable[[float], Point]:
    """The point of a factor: the field at ``base`` x factor (whole numbers rounded, at least 1), with
    ``failure`` down over the window."""
    down = (
        [f"faults+={{kind: outage, target: {failure}, at: {LEAD}s, duration: {duration}s, cause: N-1}}"]
        if failure is not None
        else []
    )

    def point_at(factor: float) -> Point:
        value = base * factor
        if isinstance(base, int) and not isinstance(base, bool):
            value = max(1, round(value))
        sets = [*overrides, *down, f"{grow}={value!r}"]
        label = {"failure": failure or "none", "factor": factor}
        return Point(label, sets, load_scenario(scenario_path, sets))

    return point_at


def base_value(scenario_path: str, overrides: list[str], grow: str) -> float:
    """The field's value in the scenario, which a factor multiplies (ValueError if it is not a number)."""
    sc = load_scenario(scenario_path, overrides)
    node = sc.model_dump()
    for part in grow.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"--grow {grow}: no such field in the scenario")
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ValueError(f"--grow {grow}: is {node!r}, not a number")
    if node <= 0:
        raise ValueError(f"--grow {grow}: is {node}; a factor needs a positive value to multiply")
    return node


def table(limits: list[Limit]) -> list[str]:
    """The headline: a line per case, failure / max growth / bottleneck."""
    rows = [("failure", "max growth", "bottleneck at the limit")]
    for lim in limits:
        rows.append((lim.failure or "none (all up)", _growth(lim), lim.bottleneck))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    return [f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]}" for r in rows]


def _growth(lim: Limit) -> str:
    if lim.limit is None:
        return f"none (fails even at x{MIN_FACTOR:.3g})"
    if lim.above is None:
        return f">= x{lim.limit:.3g}"
    return f"x{lim.limit:.3g}"


def describe_window(scenario_path: str, overrides: list[str], at: float, duration: float) -> str:
    sc = load_scenario(scenario_path, overrides)
    t = (sc.clock.t0 + dt.timedelta(seconds=at)).astimezone(sc.clock.zone)
    return (
        f"every run: {t:%a %H:%M} for {format_duration(duration)} (after {format_duration(LEAD)} of warm-up "
        "cut from it)"
    )


def report(
    limits: list[Limit], grow: str, slos: list[str], seeds: list[int], level: float, where: str
) -> str:
    """capacity.md: the headline table first, then how it was found, then every step of every search."""
    out = [
        f"# Capacity: how far `{grow}` can grow",
        "",
        "| failure | max growth | bottleneck at the limit |",
        "|---|---|---|",
    ]
    for lim in limits:
        out.append(f"| {lim.failure or 'none (all up)'} | {_growth(lim)} | {lim.bottleneck} |")
    out += [
        "",
        f"Service levels, each held at the far end of its {level:.0%} interval over {len(seeds)} seeds "
        f"({', '.join(map(str, seeds))}): " + "; ".join(f"`{s}`" for s in slos) + ".",
        f"Window: {where}. A failure is an outage of the node (or the ESX host, with its virtual servers) "
        "over the whole window. Max growth is the largest factor that held; the bottleneck is the busiest "
        "resource at the first factor that failed (its mean utilisation over the seeds), with its "
        "utilisation at the limit.",
        "",
        "## The searches",
    ]
    for lim in limits:
        out += [
            "",
            f"### {lim.failure or 'none (all up)'}",
            "",
            "| factor | holds | why not |",
            "|---|---|---|",
        ]
        for s in sorted(lim.steps, key=lambda s: s.factor):
            out.append(f"| x{s.factor:.4g} | {'yes' if s.holds else 'no'} | {'; '.join(s.why)} |")
    return "\n".join(out) + "\n"
