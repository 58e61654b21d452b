"""What every component is: a node of the topology with its scenario section, random streams and
neighbours, turned into SimPy behaviour.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twin.components.station import Station
from twin.scenario.distributions import batched
from twin.scenario.schema import TERMINAL_STATES
from twin.sim.ledger import STATE_CODE

if TYPE_CHECKING:
    from twin.sim.engine import Model


class Component:
    """One node. Subclasses set ``station`` if the node does queued work, and may add processes.

    ``links`` maps each neighbour reachable over the network to the link's one-way latency;
    ``depends_on`` lists the nodes this one needs to work (both read from the topology graph).
    """

    def __init__(self, model: Model, name: str, attrs: dict[str, Any], spec: Any):
        self.model = model
        self.env = model.env
        self.name = name
        self.attrs = attrs
        self.spec = spec
        self.code = model.ledger.nodes.code(name)
        # What senders address: a generic station by its name, a platform instance by its class.
        self.group = name if attrs["kind"] == "station" else attrs["kind"]
        self.stage = model.ledger.stages.code(self.group)
        graph = model.graph
        self.links = {
            v: d.get("latency", 0.0)
            for _, v, k, d in graph.out_edges(name, keys=True, data=True)
            if k == "link"
        }
        self.depends_on = [v for _, v, k in graph.out_edges(name, keys=True) if k == "depends_on"]
        self.station: Station | None = None
        self.down_causes = 0  # active reasons this node is down (its own fault, its ESX host's)
        self.spool = None  # an MTA's spool of accepted, undelivered mail (frontends)
        # The seconds one customer's work takes here: a sampler (a C-level callable; no Python frame per
        # call) if the class has a demand, else float, whose float() is 0.0.
        self.service_time: Callable[[], float] = float
        self._cum: list[float] = []
        self._targets: list[Any] = []
        self._exit = STATE_CODE["delivered"]
        self._u = None

    def wire(self) -> None:
        """Resolve routing targets to groups (or terminal states) once all components exist."""
        routing = getattr(self.spec, "routing", None) or {}
        cum = 0.0
        for target, p in routing.items():
            if p <= 0:
                continue
            cum += p
            self._cum.append(cum)
            self._targets.append(
                STATE_CODE[target] if target in TERMINAL_STATES else self.model.groups[target]
            )
        if self._cum:
            self._u = batched(self.model.streams.generator(f"{self.name}.routing").random)

    @property
    def up(self) -> bool:
        return self.down_causes == 0

    def start(self) -> None:
        """Start the component's own processes (none by default)."""

    def changed(self) -> None:
        """The node went down or came back (called by the fault injector)."""
        self.model.groups[self.group].member_changed(self)

    def next_hop(self):
        """A Group to visit next, or a terminal state code (int)."""
        if self._u is None:
            return self._exit
        i = bisect_right(self._cum, self._u())
        return self._targets[i] if i < len(self._targets) else self._exit


class Group:
    """The instances a sender can be routed to, and the policy that picks one (PLATFORM.md §3, Cisco CSS).

    ``pick`` chooses among the instances believed up; ``connect`` is what a client gets: the instance, or
    None if the connection fails (no instance believed up, the picked one is actually down, or the load
    balancer pair in front of the group is taking over). Without a balancer in front, a client knows at
    once which instances are up; behind one (``gate``), the balancer's keepalive decides
    (``components/balancer.py``), so for a while connections can hit a dead backend.
    """

    def __init__(self, name: str, members: list[Component], policy: str, model: Model):
        if not members:
            raise ValueError(f"group {name!r} has no members")
        self.name = name
        self.members = members
        self.policy = policy
        self.model = model
        self.stage = model.ledger.stages.code(name)
        self.gate = None  # the balancer pair in front, if any
        self.believed = {m.name: True for m in members}
        self.down_since = None  # when the last live member went down (None: some member is up)
        spec = members[0].spec
        # Reached by a delivery from a frontend's spool rather than inside the sender's transaction.
        self.delivery = name == "internet" or bool(getattr(spec, "delivery", False))
        self._i = -1
        self.pick = getattr(self, f"_{policy}") if len(members) > 1 else self._single
        if policy == "random" and len(members) > 1:
            self._r = batched(model.streams.generator(f"{name}.balance").random)
        self._weights_all = [
            max(m.attrs.get("cores", 1), 1) * max(m.attrs.get("speed", 1.0), 1e-9) for m in members
        ]
        self.refresh()

    def member_changed(self, member: Component) -> None:
        """A member went down or came back: clients see it at once, or when the balancer notices."""
        if not any(m.up for m in self.members):
            if self.down_since is None:
                self.down_since = self.model.env.now
        else:
            self.down_since = None
        if self.gate is None:
            self.believe(member, member.up)
        else:
            self.gate.watch(self, member)

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
