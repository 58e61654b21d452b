"""``mailtwin spof``: the single points of failure of a scenario's platform, found from the graph and
confirmed by simulation.

The graph (``topology.single_points_of_failure``) names every node, and every ESX host with its virtual
servers, whose failure alone leaves a class some route of the mail needs without an instance up. Each
candidate is then confirmed by a short run of the same scenario: an outage of the candidate of
``duration`` starting ``at`` into the scenario's clock (the run begins 30 min before it, so that it is
short but carries the traffic of that hour), beside a fault-free run of the same stretch. The effect is
what the candidate's incident measured (SMTP transactions deferred, messages held on the spools, the time
until the first delivery after it) against the fault-free run; it is confirmed if the outage deferred at
least ``MIN_EFFECT`` transactions and ten times the fault-free run's deferrals in as long, or held at least
``MIN_EFFECT`` messages on the spools.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from twin.experiments.replications import run_many
from twin.scenario import load_scenario
from twin.topology import build_topology, single_points_of_failure
from twin.units import format_duration

LEAD = 1800.0  # the run begins this long before the outage
TAIL = 1800.0  # ... and ends this long after it (plus the scenario's drain)
MIN_EFFECT = 100  # deferrals or held messages below this are not a break


@dataclass
class Spof:
    node: str
    breaks: list[str]
    confirmed: bool | None  # None: not simulated (--no-confirm)
    effect: str
    routes: list[str]
    down: list[str]
    graph_effect: str
    measured: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def spof(
    path: str,
    overrides: list[str] | tuple[str, ...] = (),
    at: float = 9 * 3600.0,
    duration: float = 3 * 3600.0,
    seed: int = 1,
    jobs: int | None = None,
    confirm: bool = True,
) -> list[Spof]:
    """The single points of failure of the scenario at ``path`` (with ``overrides``), each confirmed by a
    simulated outage unless ``confirm`` is false."""
    sc = load_scenario(path, overrides)
    work = sc.workload
    found = single_points_of_failure(build_topology(sc), work.inbound_classes(), work.submitted_classes())
    out = [
        Spof(p.node, list(p.breaks), None, p.effect, list(p.routes), list(p.down), p.effect) for p in found
    ]
    if not confirm or not out:
        return out
    start = (sc.clock.t0 + dt.timedelta(seconds=at - LEAD)).isoformat()
    window = [
        *overrides,
        f"clock.start={start}",
        f"clock.horizon={LEAD + duration + TAIL}s",
        "clock.warmup=0s",
        "expect=[]",
    ]
    calm = load_scenario(path, [*window, "faults=[]"])
    runs = [(calm, seed)] + [
        (
            load_scenario(
                path,
                [*window, f"faults=[{{kind: outage, target: {p.node}, at: {LEAD}s, duration: {duration}s}}]"],
            ),
            seed,
        )
        for p in out
    ]
    results = run_many(runs, jobs)
    base = results[0]
    calm_rate = (
        base["service_quality"]["temporary_errors"] / base["simulated_seconds"]
        if "service_quality" in base
        else 0.0
    )
    when = (sc.clock.t0 + dt.timedelta(seconds=at)).astimezone(sc.clock.zone).strftime("%a %H:%M")
    for p, res in zip(out, results[1:], strict=True):
        if "error" in res:
            p.confirmed, p.effect = False, f"the confirming run failed: {res['error']}"
            continue
        inc = next(i for i in res["incidents"] if i["target"] == p.node)
        calm_refused = calm_rate * duration
        refused, held = inc["refused"], inc["spooled_peak"]
        p.measured = {
            "refused": refused,
            "refused_fault_free": round(calm_refused),
            "spooled_peak": held,
            "rto_s": inc.get("rto_s"),
            "time_to_drain_s": inc["time_to_drain_s"],
        }
        p.confirmed = held >= MIN_EFFECT or refused >= max(MIN_EFFECT, 10 * calm_refused)
        parts = [
            f"{refused:,} SMTP transactions deferred (fault-free: {round(calm_refused):,})",
            f"{held:,} messages held on the spools",
        ]
        if inc.get("rto_s") is not None:
            parts.append(f"the first delivery {inc['rto_s'] / 60:.0f} min after the failure")
        verdict = "breaks" if p.confirmed else "no break measured"
        p.effect = f"{verdict}: a {format_duration(duration)} outage from {when}: " + ", ".join(parts)
    return out


def lines(found: list[Spof]) -> list[str]:
    """The terminal's view: a line per single point of failure, and its effects."""
    if not found:
        return ["no single point of failure: every class a route of the mail needs has a spare instance"]
    out = []
    for p in found:
        mark = {True: "CONFIRMED", False: "not confirmed", None: "from the graph"}[p.confirmed]
        vms = f" (with {', '.join(p.down[1:])})" if len(p.down) > 1 else ""
        out.append(f"{p.node}{vms}: {mark}; breaks {', '.join(p.breaks)}")
        out.append(f"  graph: {p.graph_effect}")
        if p.confirmed is not None:
            out.append(f"  measured: {p.effect}")
    return out
