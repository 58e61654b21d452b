"""The platform as a graph: one node per component instance, edges for links, placement and dependencies.

Edge kinds (the key of each edge in the MultiDiGraph):
- ``link``: a network path messages or requests travel, with its one-way ``latency``;
- ``runs_on``: a virtual server runs on an ESX host (a host failure takes its VMs down);
- ``depends_on``: a component needs another to work (frontend -> LDAP, scanner -> central, store -> SAN);
  the edge carries ``effect`` (what the dependent does while no instance of the dependency can be
  reached) and ``modelled`` (whether the simulation does it yet: ``DEPENDENCIES``).

Which classes talk to which is the documented architecture (docs/platform.md §1-§2, the seed's figure 1);
how many of each there are, and on what hardware, comes from the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle
from pathlib import Path

import networkx as nx

from twin.scenario.schema import Scenario, instances

# Drawing layers, top to bottom, as in the seed's figure: outside world, balancing, SMTP, scanning,
# store and directory services, storage, virtualisation.
LAYER = {
    "internet": 0,
    "blocklist": 0,
    "load_balancer": 1,
    "frontend": 2,
    "lists": 2,
    "internal": 2,
    "scanner": 3,
    "scan_central": 4,
    "store": 4,
    "replica": 4,
    "ldap": 4,
    "kdc": 4,
    "san": 5,
    "backup": 5,
    "esx": 6,
}

# Documented conversations between classes: (from, to, over the Internet?).
LINKS = (
    ("internet", "load_balancer", True),  # remote MTAs and users reach mail.uni-paderborn.de via the LB
    # load_balancer -> each class of ``platform.load_balancer.serves`` (seed §2: frontends and scanners)
    ("frontend", "load_balancer", False),  # milter calls to the scan cluster's virtual address
    ("frontend", "store", False),  # LMTP delivery (seed §3.1 step 9)
    ("frontend", "blocklist", False),  # the spam-sender blocklist lookup at connect (seed §3.1 step 1)
    ("frontend", "ldap", False),  # recipient checks, list and subdomain routes (seed §2, §4)
    ("frontend", "kdc", False),  # Kerberos login for SMTP submission
    ("frontend", "lists", False),  # list posts in and out go through the frontends
    ("lists", "frontend", False),
    ("frontend", "internal", False),  # university servers and subdomains with a route (seed §5)
    ("internal", "frontend", False),
    ("frontend", "internet", True),  # outbound mail and bounces
    ("scanner", "scan_central", False),
    ("store", "san", False),  # metadata and archive on the iSCSI SAN (seed §2)
    ("replica", "san", False),
    ("store", "kdc", False),  # Kerberos login at IMAP/POP3
    ("store", "ldap", False),  # password logins at IMAP/POP3 bind to the directory
    ("store", "replica", False),  # rolling sync_client replication, ~5 min behind (seed §2)
    ("lists", "ldap", False),
    # The TSM server's schedule starts the nightly backup on the store that serves (seed §2); the replica
    # when it has been promoted.
    ("backup", "store", False),
    ("backup", "replica", False),
)


@dataclass(frozen=True)
class Dependency:
    """A documented dependency between classes: what ``dependent`` does while no instance of ``on`` can be
    reached. A dependency on several instances (three LDAP servers, SAN paths) fails only when all are
    down. ``modelled`` False: the effect is documented but not simulated yet (the run says so)."""

    dependent: str
    on: str
    effect: str
    modelled: bool
    test: str = ""  # the test that pins the effect down
    missing: str = ""  # what the model lacks to simulate it (when not modelled)
    only: str = ""  # the one route it matters to ("submission": the users' mail; "clients": their
    # IMAP/POP sessions), or "" for all

    @property
    def note(self) -> str:
        return "" if self.modelled else f"not modelled yet: {self.missing}"


DEPENDENCIES = (
    Dependency(
        "frontend",
        "blocklist",
        "4xx at connect ('blocklist unreachable'); the remote sender retries or gives up",
        True,
        "tests/test_stages.py::test_an_unreachable_blocklist_gives_a_temporary_error",
    ),
    Dependency(
        "frontend",
        "ldap",
        "4xx at RCPT ('ldap unreachable'); the remote sender retries or gives up",
        True,
        "tests/test_stages.py::test_the_directory_down_means_4xx_at_rcpt",
    ),
    Dependency(
        "frontend",
        "scanner",
        "the milter call fails: 4xx after DATA ('scan unreachable')",
        True,
        "tests/test_stages.py::test_a_scan_cluster_that_is_down_gives_4xx",
    ),
    Dependency(
        "frontend",
        "store",
        "LMTP deliveries fail: accepted mail waits on the frontends' spools under Exim's retry rules",
        True,
        "tests/test_queue.py::test_a_store_outage_fills_the_spool_and_the_queue_runs_empty_it",
    ),
    Dependency(
        "frontend",
        "kdc",
        "Kerberos logins to SMTP submission fail: 4xx ('kdc unreachable'); the users' clients send again "
        "later, password logins (LDAP binds) go on",
        True,
        "tests/test_outbound.py::test_a_kdc_outage_fails_kerberos_logins_and_the_clients_send_again_after",
        only="submission",
    ),
    Dependency(
        "scanner",
        "scan_central",
        "answers stay valid for the grace (seed: 2 h), then 4xx after DATA ('scan invalid')",
        True,
        "tests/test_stages.py::test_scanners_answer_for_two_hours_without_the_central_server",
    ),
    Dependency(
        "store",
        "san",
        "LMTP answers 451 4.3.0 to every recipient: mail waits on the frontends' spools and drains after; "
        "users' sessions cannot open their mailboxes ('san unreachable')",
        True,
        "tests/test_dependencies.py::test_a_san_outage_stops_deliveries_and_the_spools_drain_after",
    ),
    Dependency(
        "store",
        "kdc",
        "Kerberos logins to IMAP/POP fail ('kdc unreachable'); the clients try again every retry, password "
        "logins go on",
        True,
        "tests/test_clients.py::test_a_kdc_outage_fails_the_kerberos_logins_only",
        only="clients",
    ),
    Dependency(
        "store",
        "ldap",
        "password logins to IMAP/POP and webmail fail ('ldap unreachable'); the clients try again every "
        "retry",
        True,
        "tests/test_clients.py::test_logins_fail_while_what_they_need_is_down",
        only="clients",
    ),
    Dependency(
        "replica",
        "san",
        "replication stops: the primary's log grows and the next sync_client run catches up",
        True,
        "tests/test_replica.py::test_the_replica_without_its_san_stops_replication_and_catches_up",
    ),
    Dependency(
        "store",
        "backup",
        "the night's backup is missed (recorded in the backup block), or fails if it was running; mail is "
        "not affected",
        True,
        "tests/test_backup.py::test_a_tsm_outage_misses_the_backup_and_no_mail",
        only="backup",
    ),
    Dependency(
        "lists",
        "ldap",
        "list expansion waits: posts stay in Mailman's queue, tried again every expand_retry, and go out "
        "when a directory server answers",
        True,
        "tests/test_mailman.py::test_the_directory_down_holds_the_posts_and_they_go_out_after",
    ),
)


def build_topology(sc: Scenario) -> nx.MultiDiGraph:
    """Nodes carry: kind, layer, physical, hardware, cores, speed, host (VMs)."""
    g = nx.MultiDiGraph(name=sc.meta.name)
    models = sc.hardware.models
    ref = models[sc.hardware.reference]
    ref_speed = ref.ghz * ref.ipc
    g.add_node(
        "internet", kind="internet", layer=LAYER["internet"], physical=True, hardware=None, cores=0, speed=0.0
    )

    nodes = instances(sc.platform)
    esx_names = [name for cls, name, _, _ in nodes if cls == "esx"]
    spread = cycle(esx_names) if esx_names else None
    member_hosts: dict[tuple[str, int], cycle] = {}
    by_class: dict[str, list[str]] = {}
    for cls, name, mi, member in nodes:
        by_class.setdefault(cls, []).append(name)
        attrs = {"kind": cls, "layer": LAYER[cls], "member": mi}
        if member.hardware is not None:
            model = models[member.hardware]
            attrs |= {
                "physical": True,
                "hardware": member.hardware,
                "cores": model.cores,
                "speed": (model.ghz * model.ipc / ref_speed) if model.ghz else 0.0,
                "host": None,
            }
        else:
            key = (cls, mi)
            if member.vm.hosts:
                host = next(member_hosts.setdefault(key, cycle(member.vm.hosts)))
            else:
                host = next(spread)
            host_model = _host_model(sc, host)
            attrs |= {
                "physical": False,
                "hardware": f"vm:{member.vm.vcpus}vcpu@{host_model}",
                "cores": member.vm.vcpus,
                "speed": models[host_model].ghz * models[host_model].ipc / ref_speed,
                "host": host,
            }
        g.add_node(name, **attrs)

    for order, (name, st) in enumerate(sc.platform.stations.items()):
        g.add_node(
            name,
            kind="station",
            layer=1 + order,
            physical=True,
            hardware=None,
            cores=st.servers,
            speed=1.0,
            host=None,
        )
        by_class[name] = [name]

    lan, wan = sc.platform.network.lan_latency, sc.platform.network.internet_latency
    by_class["internet"] = ["internet"]
    links = [*LINKS, *(("load_balancer", cls, False) for cls in sc.platform.load_balancer.serves)]
    for a, b, over_internet in links:
        for u in by_class.get(a, []):
            for v in by_class.get(b, []):
                if u != v:
                    g.add_edge(u, v, key="link", latency=wan if over_internet else lan)
    for dep in DEPENDENCIES:
        for u in by_class.get(dep.dependent, []):
            for v in by_class.get(dep.on, []):
                if u != v:
                    g.add_edge(u, v, key="depends_on", effect=dep.effect, modelled=dep.modelled)
    for name, data in list(g.nodes(data=True)):
        if data.get("host"):
            g.add_edge(name, data["host"], key="runs_on")

    # Routing targets of classes and stations are links too: the graph is the one map the model reads.
    routed = {cls: spec.routing for cls, spec in sc.platform.classes().items()}
    routed |= {name: st.routing for name, st in sc.platform.stations.items()}
    for src, routing in routed.items():
        for target, p in routing.items():
            for u in by_class.get(src, []):
                for v in by_class.get(target, []):
                    if not g.has_edge(u, v, key="link"):
                        g.add_edge(u, v, key="link", latency=0.0 if src in sc.platform.stations else lan)
                    g.edges[u, v, "link"]["p"] = p
    return g


def _host_model(sc: Scenario, host: str) -> str:
    for cls, name, _, member in instances(sc.platform):
        if cls == "esx" and name == host:
            return member.hardware
    raise KeyError(host)


def dependencies(g: nx.MultiDiGraph) -> list[Dependency]:
    """The documented dependencies between the classes present in ``g``, in ``DEPENDENCIES`` order."""
    kind = g.nodes
    present = {(kind[u]["kind"], kind[v]["kind"]) for u, v, k in g.edges(keys=True) if k == "depends_on"}
    return [d for d in DEPENDENCIES if (d.dependent, d.on) in present]


@dataclass(frozen=True)
class Route:
    """A way mail takes through the platform: the traffic classes on it and the component classes it
    needs (each with at least one instance up)."""

    name: str
    traffic: tuple[str, ...]
    needs: tuple[str, ...]


@dataclass(frozen=True)
class SinglePoint:
    """A node whose failure alone (with the virtual servers on it, for an ESX host) breaks a route."""

    node: str
    down: tuple[str, ...]  # the node and the VMs that fail with it
    routes: tuple[str, ...]  # the routes it breaks
    breaks: tuple[str, ...]  # their traffic classes
    effect: str  # what the graph says happens


def routes(
    g: nx.MultiDiGraph, inbound: list[str], submitted: list[str] | tuple[str, ...] = ()
) -> list[Route]:
    """The routes of the mail the scenario has, from the graph: inbound mail from the Internet (the
    classes on the link path to the frontends, then everything the frontends depend on with an effect the
    model simulates, and their dependencies in turn), deliveries from the frontends' spools into the
    mailboxes (the frontends, the store and what it depends on), bounces and delay warnings to the
    senders (the frontends), and, with ``submitted`` classes, the users' mail (the path to the frontends
    and what they depend on for it, such as the KDC). Empty without frontends (generic station
    networks)."""
    kind = {n: d["kind"] for n, d in g.nodes(data=True)}
    present = set(kind.values())
    if "frontend" not in present:
        return []
    links = nx.DiGraph((kind[u], kind[v]) for u, v, k in g.edges(keys=True) if k == "link")
    entry = ["frontend"]
    if "internet" in links and nx.has_path(links, "internet", "frontend"):
        entry = [c for c in nx.shortest_path(links, "internet", "frontend") if c != "internet"]
    simulated = [(d.dependent, d.on, d.only) for d in dependencies(g) if d.modelled]

    def closure(start: list[str], route: str = "") -> list[str]:
        out = list(dict.fromkeys(start))
        for cls in out:  # grows while it is walked: a breadth-first closure
            out += [on for dep, on, only in simulated if dep == cls and on not in out and only in ("", route)]
        return out

    found = [Route("inbound mail to the mailboxes", tuple(inbound), tuple(closure(entry)))]
    if submitted:
        found.append(
            Route("the users' mail (submission)", tuple(submitted), tuple(closure(entry, "submission")))
        )
    if "store" in present:
        found.append(
            Route(
                "deliveries from the spools into the mailboxes",
                (*inbound, "attachment_notice"),
                ("frontend", *closure(["store"])),
            )
        )
    found.append(
        Route("bounces and delay warnings to the senders", ("bounce", "delay_warning"), ("frontend",))
    )
    return found


def single_points_of_failure(
    g: nx.MultiDiGraph, inbound: list[str], submitted: list[str] | tuple[str, ...] = ()
) -> list[SinglePoint]:
    """Every node (ESX hosts with their VMs) whose failure alone leaves a class some route needs without an
    instance up, in build order."""
    kind = {n: d["kind"] for n, d in g.nodes(data=True)}
    found_routes = routes(g, inbound, submitted)
    deps = dependencies(g)
    guests: dict[str, list[str]] = {}
    for vm, host, k in g.edges(keys=True):
        if k == "runs_on":
            guests.setdefault(host, []).append(vm)
    out = []
    for node in g.nodes:
        if kind[node] == "internet":
            continue
        down = (node, *guests.get(node, ()))
        dead = [c for c in dict.fromkeys(kind[n] for n in down) if set(members_of(g, c)) <= set(down)]
        broken = [r for r in found_routes if any(c in r.needs for c in dead)]
        if not broken:
            continue
        needed = {n for r in broken for n in r.needs}

        def effect(c: str, needed: set[str] = needed) -> str:
            # what the class that needs it does (the first documented dependency on it along the routes)
            return next(
                (f"{d.dependent}: {d.effect}" for d in deps if d.on == c and d.dependent in needed),
                "no connection gets through",
            )

        why = "; ".join(f"no {c} left ({effect(c)})" for c in dead if c in needed)
        out.append(
            SinglePoint(
                node,
                down,
                tuple(r.name for r in broken),
                tuple(dict.fromkeys(t for r in broken for t in r.traffic)),
                why,
            )
        )
    return out


def members_of(g: nx.MultiDiGraph, kind: str) -> list[str]:
    """Node names of one class (or the station of that name), in build order."""
    return [n for n, d in g.nodes(data=True) if d["kind"] == kind or (d["kind"] == "station" and n == kind)]


def draw_topology(g: nx.MultiDiGraph, path: str | Path, title: str | None = None) -> None:
    """A layered picture like the seed's figure: physical machines light, virtual servers dark."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from twin.io import atomic_path

    layers = sorted({d["layer"] for _, d in g.nodes(data=True)})
    pos = {}
    for layer in layers:
        row = [n for n, d in g.nodes(data=True) if d["layer"] == layer]
        for i, n in enumerate(row):
            pos[n] = ((i - (len(row) - 1) / 2) * 1.6, -layer * 1.4)
    width = max(8.0, 1.6 * max(sum(1 for _, d in g.nodes(data=True) if d["layer"] == lay) for lay in layers))
    fig, ax = plt.subplots(figsize=(min(width, 30), 1.6 * len(layers) + 1.5))
    kinds = {
        "link": dict(edge_color="#8a8a8a", style="solid", width=0.8),
        "depends_on": dict(edge_color="#c0392b", style="dashed", width=0.8),
        "runs_on": dict(edge_color="#2c3e50", style="dotted", width=1.2),
    }
    for kind, style in kinds.items():
        edges = [(u, v) for u, v, k in g.edges(keys=True) if k == kind]
        nx.draw_networkx_edges(
            g,
            pos,
            edgelist=edges,
            ax=ax,
            arrows=True,
            arrowsize=8,
            alpha=0.6,
            connectionstyle="arc3,rad=0.05",
            **style,
        )
    # Physical machines light squares, virtual servers dark circles, as in the seed's figure.
    looks = {True: ("s", "#e8eef4", "#34495e", "black"), False: ("o", "#34495e", "#1b2631", "white")}
    for physical, (shape, fill, edge, text) in looks.items():
        nodes = [n for n, d in g.nodes(data=True) if d.get("physical", True) == physical]
        nx.draw_networkx_nodes(
            g, pos, nodelist=nodes, node_shape=shape, node_size=1500, node_color=fill, edgecolors=edge, ax=ax
        )
        nx.draw_networkx_labels(g, pos, labels={n: n for n in nodes}, font_size=7, font_color=text, ax=ax)
    from matplotlib.lines import Line2D

    legend = [
        Line2D([], [], marker="s", ls="", mfc="#e8eef4", mec="#34495e", ms=10, label="physical server"),
        Line2D([], [], marker="o", ls="", mfc="#34495e", mec="#1b2631", ms=10, label="virtual server (ESX)"),
        Line2D([], [], color="#8a8a8a", label="network link"),
        Line2D([], [], color="#c0392b", ls="--", label="depends on"),
        Line2D([], [], color="#2c3e50", ls=":", label="runs on"),
    ]
    ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title or f"Topology: {g.graph.get('name', '')}")
    ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
