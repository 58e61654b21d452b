"""Checks that need the whole scenario: names that must exist, exist once, or fit together.

Each problem carries the path of the field that holds it, so the loader can point at its line.
"""

from __future__ import annotations

import networkx as nx

from twin.scenario.schema import (
    STATES,
    TERMINAL_STATES,
    RandomFailures,
    Scenario,
    instances,
    match_nodes,
)
from twin.units import format_duration

Path = tuple[str | int, ...]


def check_references(sc: Scenario) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    models = sc.hardware.models
    plat = sc.platform
    classes = plat.classes()

    ref = models.get(sc.hardware.reference)
    if ref is None:
        problems.append(
            (
                ("hardware", "reference"),
                f"unknown hardware model {sc.hardware.reference!r} ({_known(models)})",
            )
        )
    elif ref.appliance:
        problems.append(
            (("hardware", "reference"), "the reference core must be a server model, not an appliance")
        )

    nodes = instances(plat)
    esx_names = [name for cls, name, _, _ in nodes if cls == "esx"]
    seen: dict[str, Path] = {}
    for cls, name, mi, member in nodes:
        where: Path = ("platform", cls, "members", mi)
        if name in seen or name in plat.stations or name == "internet":
            problems.append(((*where, "names"), f"node name {name!r} is used twice"))
        seen[name] = where
        if member.hardware is not None and member.hardware not in models:
            problems.append(
                ((*where, "hardware"), f"unknown hardware model {member.hardware!r} ({_known(models)})")
            )
        if member.vm is not None:
            if cls == "esx":
                problems.append(((*where, "vm"), "ESX hosts are physical servers; give 'hardware'"))
            elif not esx_names:
                problems.append(((*where, "vm"), "a virtual server needs ESX hosts (platform.esx.members)"))
            for hi, host in enumerate(member.vm.hosts or []):
                if host not in esx_names:
                    problems.append(
                        (
                            (*where, "vm", "hosts", hi),
                            f"unknown ESX host {host!r} (expected one of: "
                            f"{', '.join(esx_names) or 'none defined'})",
                        )
                    )
        if (
            classes[cls].demand is not None
            and classes[cls].servers is None
            and member.hardware in models
            and models[member.hardware].appliance
        ):
            problems.append(
                (
                    (*where, "hardware"),
                    f"{member.hardware!r} is an appliance (no CPU modelled): give the class 'servers' "
                    "(requests served at once) for its demand, which is then seconds per request",
                )
            )

    for i, cls in enumerate(plat.load_balancer.serves):
        if cls not in classes or cls == "load_balancer":
            problems.append(
                (
                    ("platform", "load_balancer", "serves", i),
                    f"unknown class {cls!r} behind the balancer (expected one of: "
                    f"{', '.join(c for c in classes if c != 'load_balancer')})",
                )
            )

    for st in plat.stations:
        if st in classes or st in STATES or st == "internet":
            problems.append(
                (("platform", "stations", st), f"station name {st!r} is taken (a component class or a state)")
            )

    targets = _targets(sc)
    for cls, spec in classes.items():
        for target in spec.routing:
            if target not in targets and target not in TERMINAL_STATES:
                problems.append((("platform", cls, "routing", target), _unknown_target(target, targets)))
    for st, spec in plat.stations.items():
        for target in spec.routing:
            if target not in targets and target not in TERMINAL_STATES:
                problems.append(
                    (("platform", "stations", st, "routing", target), _unknown_target(target, targets))
                )

    loop = _instant_loop(sc)
    if loop:
        where = ("platform", "stations", loop[0]) if loop[0] in plat.stations else ("platform", loop[0])
        problems.append(
            (
                (*where, "routing"),
                "routing loop through components that take no time: " + " -> ".join([*loop, loop[0]]),
            )
        )

    for i, fault in enumerate(sc.faults):
        if not match_nodes(sc, fault.target):
            problems.append((("faults", i, "target"), f"{fault.target!r} matches no node, station or class"))
        if not isinstance(fault, RandomFailures) and fault.at >= sc.end:
            problems.append((("faults", i, "at"), "starts after the end of the run (horizon + drain)"))

    for i, src in enumerate(sc.workload.sources):
        if src.enter not in targets:
            problems.append(
                (("workload", "sources", i, "enter"), _unknown_target(src.enter, targets, states=False))
            )
        if src.start >= sc.clock.horizon:
            problems.append((("workload", "sources", i, "start"), "starts at or after the horizon"))
        if src.stop is not None and src.stop <= src.start:
            problems.append((("workload", "sources", i, "stop"), "stop must come after start"))
    problems += _feasible(sc, len(nodes))
    needs = (
        ("inbound", "inbound mail", "it is accepted by the frontends and delivered to the store"),
        (
            "submission",
            "the users' mail",
            "it is submitted to the frontends, and bounces go to the senders' mailboxes",
        ),
    )
    for field, what, why in needs:
        work = getattr(sc.workload, field)
        if work is not None and work.enabled:
            problems += [
                (("workload", field), f"{what} needs {cls} instances (platform.{cls}.members): {why}")
                for cls in ("frontend", "store")
                if not classes[cls].count
            ]
    routed = [
        (("workload", field, "classes", name), "subdomain" if c.subdomain > 0 else "relay")
        for field in ("inbound", "submission")
        if (work := getattr(sc.workload, field)) is not None and work.enabled
        for name, c in work.classes.items()
        if c.subdomain > 0 or getattr(c, "relay", False)
    ]
    if routed and not classes["internal"].count:
        loc, what = routed[0]
        problems.append(
            (
                loc,
                f"{'subdomain recipients' if what == 'subdomain' else 'the relay'} need internal instances "
                "(platform.internal.members): the servers of the subdomains and the relay's systems",
            )
        )
    sub = sc.workload.submission
    if sub is not None and sub.enabled:
        if sub.start >= sc.clock.horizon:
            problems.append((("workload", "submission", "start"), "starts at or after the horizon"))
        if sub.stop is not None and sub.stop <= sub.start:
            problems.append((("workload", "submission", "stop"), "stop must come after start"))
    return problems


# Not numbers of the platform but what one run can simulate: more nodes, or periodic work more often than
# this over the run, would take the run (or its memory) beyond any machine.
MAX_NODES = 10_000
MAX_PERIODIC = 10_000_000  # runs of one periodic process (queue runner, keepalive, expunge)
MAX_SAMPLES = 10_000_000  # time-series samples of one node


def _feasible(sc: Scenario, n_nodes: int) -> list[tuple[Path, str]]:
    """Counts whose arithmetic would never finish or never fit: periodic work far too often, too many
    nodes, a failure cycle of microseconds."""
    problems: list[tuple[Path, str]] = []
    end = sc.end
    total = n_nodes + len(sc.platform.stations)
    if total > MAX_NODES:
        problems.append((("platform",), f"{total:,} nodes; at most {MAX_NODES:,}"))

    def often(path: Path, interval: float, what: str, limit: int = MAX_PERIODIC) -> None:
        n = end / interval
        if n > limit:
            problems.append(
                (
                    path,
                    f"{n:,.0f} {what} in the run (horizon + drain {format_duration(end)}); "
                    f"at most {limit:,}: give at least {format_duration(_ceil_nice(end / limit))}",
                )
            )

    often(("outputs", "sample_interval"), sc.outputs.sample_interval, "samples", MAX_SAMPLES)
    if sc.platform.frontend.count:
        often(("policies", "exim", "queue_interval"), sc.policies.exim.queue_interval, "queue runs")
    if sc.platform.load_balancer.count:
        often(
            ("platform", "load_balancer", "keepalive_interval"),
            sc.platform.load_balancer.keepalive_interval,
            "keepalive probes",
        )
    expunge = sc.workload.mailboxes.expunge
    if expunge is not None:
        often(("workload", "mailboxes", "expunge", "every"), expunge.every, "expunge rounds")
    for i, fault in enumerate(sc.faults):
        if isinstance(fault, RandomFailures):
            cycle = fault.mtbf.mean + fault.mttr.mean
            often(("faults", i, "mtbf"), cycle, "failures of each node (mean of mtbf + mttr)", 100_000)
    return problems


def _ceil_nice(seconds: float) -> float:
    """``seconds`` rounded up to a duration that reads well (1, 2 or 5 times a power of ten)."""
    import math

    if seconds <= 0:
        return seconds
    exp = math.floor(math.log10(seconds))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= seconds:
            return m * 10**exp
    return 10 ** (exp + 1)


def _instant_loop(sc: Scenario) -> list[str]:
    """A routing cycle whose every hop takes zero time would never let simulated time advance."""
    g = nx.DiGraph()
    # Ordered (not a set of strings) so the loop reported is the same on every run.
    instant = [cls for cls, spec in sc.platform.classes().items() if spec.count > 0 and spec.demand is None]
    instant += [
        name
        for name, st in sc.platform.stations.items()
        if st.service.dist == "constant" and st.service.value == 0
    ]
    routed = {cls: spec.routing for cls, spec in sc.platform.classes().items()}
    routed |= {name: st.routing for name, st in sc.platform.stations.items()}
    for src in instant:
        for target, p in routed[src].items():
            if target in instant and p > 0:
                g.add_edge(src, target)
    try:
        return [u for u, _ in nx.find_cycle(g)]
    except nx.NetworkXNoCycle:
        return []


def _targets(sc: Scenario) -> set[str]:
    """Names a message can be sent to: classes with instances, and stations."""
    live = {cls for cls, spec in sc.platform.classes().items() if spec.count > 0}
    return live | set(sc.platform.stations)


def _unknown_target(target: str, targets: set[str], states: bool = True) -> str:
    expected = sorted(targets) + (list(TERMINAL_STATES) if states else [])
    return f"unknown target {target!r} (expected one of: {', '.join(expected)})"


def _known(models: dict) -> str:
    return "known: " + ", ".join(sorted(models))
