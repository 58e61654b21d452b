"""What every component is: a node of the topology with its scenario section, random streams and
neighbours, turned into SimPy behaviour. ``docs/architecture.md`` ("Adding a component") is the recipe;
this module is the contract it refers to.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import Any, ClassVar

from twin.components.station import Station
from twin.scenario.distributions import batched
from twin.scenario.schema import TERMINAL_STATES
from twin.sim.context import Context
from twin.sim.ledger import STATE_CODE


class Component:
    """One node. The model calls, in this order:

    1. ``__init__(ctx, name, attrs, spec)``: read the node's attributes (``attrs``: kind, cores, speed…)
       and its class's scenario section (``spec``); draw only from streams named after ``name``;
    2. ``wire(groups)``: find the peers through the graph. ``peers`` are the classes this node reaches over
       ``link`` edges (directly, or through the load balancer in front of them), ``needs`` the classes it
       ``depends_on``; both map a class to the ``Group`` of its instances;
    3. ``start()``: start its own processes;
    4. during the run, ``went_down()`` / ``came_up()`` from the fault injector. While a node is down it does
       nothing: ``boot`` counts its failures, so work that began before one (a session waiting on a
       timeout) sees that the node it used is gone and is cut as its protocol says;
    5. at the end, ``results()``: the node's own KPI blocks; during the run, ``gauges()``: the values of
       ``GAUGES`` the probe samples.

    If the instances share something (a redundant pair, a virtual address), the class names it in
    ``SERVICE``; the model builds it once for the group, after wiring and before ``start``.

    A subclass sets ``station`` if the node does queued work, ``OUTAGE`` to say what its outage does, and
    adds what its protocol needs.
    """

    GAUGES: ClassVar[tuple[str, ...]] = ()  # instant values the probe samples, besides the station's
    # What the instances of this class share, built once for their group: ``SERVICE(ctx, group)``, an
    # object with ``results()`` (the balancer pair, the frontends' SMTP service); None: nothing shared.
    SERVICE: ClassVar[type | None] = None
    OUTAGE: ClassVar[str] = "does no work while it is down"
    spools_mail: ClassVar[bool] = False  # an MTA that takes responsibility for mail (frontends)
    protocol: ClassVar[str] = "smtp"  # what a frontend speaks to it when it delivers there
    REASONS: ClassVar[dict[str, str]] = {}  # its permanent replies -> the ledger stage of the bounce

    def __init__(self, ctx: Context, name: str, attrs: dict[str, Any], spec: Any):
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.attrs = attrs
        self.kind = attrs["kind"]
        self.spec = spec
        ledger = ctx.ledger
        self.code = ledger.nodes.code(name)
        # What senders address: a generic station by its name, a platform instance by its class.
        self.group = name if self.kind == "station" else self.kind
        self.stage = ledger.stages.code(self.group)
        graph = ctx.graph
        self.links = {
            v: d.get("latency", 0.0)
            for _, v, k, d in graph.out_edges(name, keys=True, data=True)
            if k == "link"
        }
        self.depends_on = [v for _, v, k in graph.out_edges(name, keys=True) if k == "depends_on"]
        self.peers: dict[str, Group] = {}
        self.needs: dict[str, Group] = {}
        self.station: Station | None = None
        self.cluster: Group | None = None  # the group of this node's class (set by the Group)
        self.down_causes = 0  # active reasons this node is down (its own fault, its ESX host's)
        self.boot = 0  # failures so far: work that began under an earlier boot was cut
        self.next_down = float("inf")  # the next failure the fault injector has planned for this node
        # The seconds one customer's work takes here: a sampler (a C-level callable; no Python frame per
        # call) if the class has a demand, else float, whose float() is 0.0.
        self.service_time: Callable[[], float] = float
        self._cum: list[float] = []
        self._targets: list[Any] = []
        self._exit = STATE_CODE["delivered"]
        self._u = None

    # -- wiring ------------------------------------------------------------------------------------------

    def wire(self, groups: dict[str, Group]) -> None:
        """Find the peers through the graph, and resolve routing targets (to peers or terminal states)."""
        graph = self.ctx.graph
        kinds = graph.nodes
        for v in self.links:
            kind = kinds[v]["kind"]
            target = v if kind == "station" else kind
            self.peers[target] = groups[target]
            if kind == "load_balancer":  # the classes behind the balancer's virtual addresses
                for _, w, k in graph.out_edges(v, keys=True):
                    behind = kinds[w]["kind"]
                    if k == "link" and behind != self.kind and behind != "load_balancer":
                        self.peers[behind] = groups[behind]
        for v in self.depends_on:
            self.needs[kinds[v]["kind"]] = groups[kinds[v]["kind"]]
        routing = getattr(self.spec, "routing", None) or {}
        cum = 0.0
        for target, p in routing.items():
            if p <= 0:
                continue
            cum += p
            self._cum.append(cum)
            self._targets.append(STATE_CODE[target] if target in TERMINAL_STATES else self.peers[target])
        if self._cum:
            self._u = batched(self.ctx.streams.generator(f"{self.name}.routing").random)

    def peer(self, kind: str) -> Group | None:
        """The group of ``kind`` this node talks to or depends on, if the graph says it does."""
        return self.peers.get(kind) or self.needs.get(kind)

    def start(self) -> None:
        """Start the component's own processes (none by default)."""

    # -- up and down ---------------------------------------------------------------------------------------

    @property
    def up(self) -> bool:
        return self.down_causes == 0

    def went_down(self) -> None:
        """The node failed (called once per failure, by the fault injector). Its queued work is cut: what
        it was serving gets no answer; the clients see it when they next look (``boot``)."""
        self.boot += 1
        now = self.env.now
        for station in self.stations():
            station.cut(now)
        self.cluster.member_changed(self)

    def came_up(self) -> None:
        """The node is back (called once per repair)."""
        self.cluster.member_changed(self)

    def lose_data(self) -> int:
        """The node failed for good and will come back empty (a ``loss`` fault, called after
        ``went_down``): a class that holds data (a spool, mailboxes) writes off what it held and returns
        how many recipients were lost with it. Default: nothing is held."""
        return 0

    def stations(self) -> list[Station]:
        return [self.station] if self.station is not None else []

    # -- routing (generic stations) ------------------------------------------------------------------------

    def next_hop(self) -> Group | int:
        """A Group to visit next, or a terminal state code (int)."""
        if self._u is None:
            return self._exit
        i = bisect_right(self._cum, self._u())
        return self._targets[i] if i < len(self._targets) else self._exit

    # -- what the run reports --------------------------------------------------------------------------------

    def gauges(self) -> tuple[float, ...]:
        """The current values of ``GAUGES``, in that order."""
        return ()

    def results(self) -> dict[str, dict]:
        """This node's KPI blocks: ``{block: entry}``; kpis.json gets ``kpis[block][node name] = entry``.
        The station's figures are over the statistics window (``Station.close_window``)."""
        if self.station is None:
            return {}
        return {"components": {"kind": self.kind, **self.station.statistics(self.ctx.end)}}


def _capacity(m: Component) -> float:
    """A member's weight in weighted round robin: its CPU capacity."""
    return max(m.attrs.get("cores", 1), 1) * max(m.attrs.get("speed", 1.0), 1e-9)


class Group:
    """The instances a sender can be routed to, and the policy that picks one (docs/platform.md §A, Cisco
    CSS).

    ``pick`` chooses among the instances believed up; ``connect`` is what a client gets: the instance, or
    None if the connection fails (no instance believed up, the picked one is actually down, or the load
    balancer pair in front of the group is taking over). Without a balancer in front, a client knows at
    once which instances are up; behind one (``gate``), the balancer's keepalive decides
    (``components/balancer.py``), so for a while connections can hit a dead backend.
    """

    def __init__(self, name: str, members: list[Component], policy: str, ctx: Context):
        if not members:
            raise ValueError(f"group {name!r} has no members")
        self.name = name
        self.members = members
        self.policy = policy
        self.env = ctx.env
        self.stage = ctx.ledger.stages.code(name)
        self.gate = None  # the balancer pair in front, if any
        self.service = None  # what the members share (their class's SERVICE), if anything
        self.believed = {m.name: True for m in members}
        self.down_since = None  # when the last live member went down (None: some member is up)
        spec = members[0].spec
        # Reached by a delivery from a frontend's spool rather than inside the sender's transaction.
        self.delivery = name == "internet" or bool(getattr(spec, "delivery", False))
        self._i = -1
        self.pick = self._single
        if len(members) > 1:
            self.pick = {
                "round_robin": self._round_robin,
                "weighted_round_robin": self._weighted_round_robin,
                "least_connections": self._least_connections,
                "random": self._random,
            }[policy]
        # The two policies nearly every connection meets, with ``pick`` written into ``connect``: it is
        # called several times per message.
        self._rotate = self.pick == self._round_robin
        if self._rotate or self.pick == self._single:
            self.connect = self._connect_single_or_round_robin
        if policy == "random" and len(members) > 1:
            self._r = batched(ctx.streams.generator(f"{name}.balance").random)
        self._weights_all = [_capacity(m) for m in members]
        for m in members:
            m.cluster = self
        self.refresh()

    @property
    def any_up(self) -> bool:
        return self.down_since is None

    def member_changed(self, member: Component) -> None:
        """A member went down or came back: clients see it at once, or when the balancer notices."""
        if not any(m.up for m in self.members):
            if self.down_since is None:
                self.down_since = self.env.now
        else:
            self.down_since = None
        if self.gate is None:
            self.believe(member, member.up)
        else:
            self.gate.watch(self, member)

    def serve_with(self, members: list[Component]) -> None:
        """Hand the group's address to other instances (a replica promoted to primary, a switch back);
        with none, every connection fails (a switch-over in progress). Clients know it at once."""
        self.members = members
        for m in members:
            self.believed[m.name] = m.up
        self._weights_all = [_capacity(m) for m in members]
        self.refresh()

    def believe(self, member: Component, up: bool) -> None:
        self.believed[member.name] = up
        self.refresh()

    def refresh(self) -> None:
        """Recompute the members believed up."""
        ok = [self.believed[m.name] for m in self.members]
        self.live = [m for m, b in zip(self.members, ok, strict=True) if b]
        self._weights = [w for w, b in zip(self._weights_all, ok, strict=True) if b]
        self._current = [0.0] * len(self.live)

    def connect(self) -> Component | None:
        """The instance a new connection reaches, or None if it fails."""
        gate = self.gate
        if gate is not None and not gate.available:
            return None
        comp = self.pick()
        if comp is None or comp.down_causes:
            return None
        return comp

    def _connect_single_or_round_robin(self) -> Component | None:
        """``connect`` with ``_single`` or ``_round_robin`` (``_rotate``) as ``pick``, in one call."""
        gate = self.gate
        if gate is not None and not gate.available:
            return None
        live = self.live
        if not live:
            return None
        i = 0
        if self._rotate:
            self._i = i = (self._i + 1) % len(live)
        comp = live[i]
        return None if comp.down_causes else comp

    def _single(self) -> Component | None:
        return self.live[0] if self.live else None

    def _round_robin(self) -> Component | None:
        live = self.live
        if not live:
            return None
        self._i = (self._i + 1) % len(live)
        return live[self._i]

    def _random(self) -> Component | None:
        live = self.live
        return live[int(self._r() * len(live))] if live else None

    def _least_connections(self) -> Component | None:
        # Ties go to the first member in build order, as a deterministic CSS would.
        live = self.live
        return min(live, key=lambda m: m.station.in_system if m.station else 0) if live else None

    def _weighted_round_robin(self) -> Component | None:
        # Smooth weighted round robin: spreads picks evenly in proportion to CPU capacity.
        if not self.live:
            return None
        total = sum(self._weights)
        cur = self._current
        for i, w in enumerate(self._weights):
            cur[i] += w
        best = max(range(len(cur)), key=cur.__getitem__)
        cur[best] -= total
        return self.live[best]
