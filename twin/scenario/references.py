"""Checks that need the whole scenario: names that must exist, exist once, or fit together.

Each problem carries the path of the field that holds it, so the loader can point at its line.
"""

from __future__ import annotations

import networkx as nx

from twin.scenario.schema import STATES, TERMINAL_STATES, Outage, Scenario, instances, match_nodes

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
        if isinstance(fault, Outage) and fault.at >= sc.end:
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
    inbound = sc.workload.inbound
    if inbound is not None and inbound.enabled:
        for cls in ("frontend", "store"):
            if not classes[cls].count:
                problems.append(
                    (
                        ("workload", "inbound"),
                        f"inbound mail needs {cls} instances (platform.{cls}.members): it is accepted by the "
                        "frontends and delivered to the store",
                    )
                )
    return problems


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
