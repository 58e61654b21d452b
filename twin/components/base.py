"""What every component is: a node of the topology with its scenario section, random streams and
neighbours, turned into SimPy behaviour.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import TYPE_CHECKING, Any

from twin.components.station import Station
from twin.scenario.distributions import Sampler
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
        self._service = None
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
            self._u = Sampler(self.model.streams.generator(f"{self.name}.routing").random)

    @property
    def up(self) -> bool:
        return self.down_causes == 0

    def start(self) -> None:
        """Start the component's own processes (none by default)."""

    def service_time(self) -> float:
        return self._service() if self._service is not None else 0.0

    def next_hop(self):
        """A Group to visit next, or a terminal state code (int)."""
        if self._u is None:
            return self._exit
        i = bisect_right(self._cum, self._u())
        return self._targets[i] if i < len(self._targets) else self._exit


class Group:
    """The instances a sender can be routed to, and the policy that picks one (PLATFORM.md §3, Cisco CSS).

    Only instances that are up are picked; ``pick`` returns None when none is, and the sender's connection
    is refused. (Health detection is immediate here: the load balancer's keepalive delay is not modelled.)
    """

    def __init__(self, name: str, members: list[Component], policy: str, model: Model):
        if not members:
            raise ValueError(f"group {name!r} has no members")
        self.name = name
        self.members = members
        self.policy = policy
        spec = members[0].spec
        # Reached by a delivery from a frontend's spool rather than inside the sender's transaction.
        self.delivery = name == "internet" or bool(getattr(spec, "delivery", False))
        self._i = -1
        self.pick = getattr(self, f"_{policy}") if len(members) > 1 else self._single
        if policy == "random" and len(members) > 1:
            self._r = Sampler(model.streams.generator(f"{name}.balance").random)
        self._weights_all = [
            max(m.attrs.get("cores", 1), 1) * max(m.attrs.get("speed", 1.0), 1e-9) for m in members
        ]
        self.refresh()

    def refresh(self) -> None:
        """Recompute the live members after a member went down or came back."""
        self.live = [m for m in self.members if m.up]
        self._weights = [w for m, w in zip(self.members, self._weights_all, strict=True) if m.up]
        self._current = [0.0] * len(self.live)

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
