"""The load balancer pair (2x Cisco CSS 11503, seed §1) in front of the frontends and the scan cluster, and
of the store's IMAP/POP address for the users' sessions (``access.py`` asks whether the pair is
available; the store's own keepalive is not modelled, since a single store down fails every login anyway).

What the twin models (docs/platform.md §A, Cisco CSS content load-balancing guide):
- one virtual address per served class; the balancing method is the class's ``balance`` (round robin,
  weighted round robin, least connections);
- keepalives: every ``keepalive_interval`` the balancer probes each backend; after ``keepalive_failures``
  failed probes in a row the backend is marked dead and gets no new connections. Until then, connections
  sent to a backend that is down fail (the client sees a temporary error). A backend that comes back is
  used again after its next successful probe. Each backend's probes have their own phase;
- redundancy: one unit is active. When it fails, the standby takes over after ``takeover`` seconds
  (heartbeat 1 s, 3 missed); in between, and while both are down, no connection gets through.

Not modelled: the balancer's own capacity (the CSS forwards far more connections than the platform has),
sticky sessions, and the keepalive's own timeout (the probe fails at once).
"""

from __future__ import annotations

import math

from twin.components.base import Component


class BalancerPair:
    """The redundant pair: the units of the ``load_balancer`` class, in front of the groups it serves."""

    name = "balancer"

    def __init__(self, ctx, group):
        units = group.members
        spec = units[0].spec
        self.env = ctx.env
        self.units = units
        self.spec = spec
        self.active = units[0]
        self.available = True
        self.takeovers = 0
        for unit in units:
            unit.pair = self
        self._phase_rng = ctx.streams.generator("load_balancer.keepalive_phase")
        self._phase: dict[str, float] = {}
        # The classes behind the virtual addresses: those of ``serves`` the balancer links to (the graph).
        self.served = [units[0].peers[c] for c in spec.serves if c in units[0].peers]
        for group in self.served:
            group.gate = self
            for m in group.members:
                self._phase[m.name] = float(self._phase_rng.random()) * spec.keepalive_interval

    def results(self) -> dict[str, dict]:
        return {"balancer": {"active": self.active.name, "takeovers": self.takeovers}}

    # -- keepalive health of the backends ------------------------------------------------------------------

    def detection_delay(self, member: str, up: bool) -> float:
        """Seconds from now until the balancer believes ``member`` is ``up`` (or down)."""
        interval = self.spec.keepalive_interval
        phase = self._phase[member]
        now = self.env.now
        first_probe = phase + math.ceil((now - phase) / interval - 1e-12) * interval
        if up:
            return first_probe - now
        return first_probe + (self.spec.keepalive_failures - 1) * interval - now

    def watch(self, group, member: Component) -> None:
        self.env.process(self._detect(group, member, member.up))

    def _detect(self, group, member, up: bool):
        yield self.env.timeout(self.detection_delay(member.name, up))
        if member.up == up and group.believed[member.name] != up:
            group.believe(member, up)

    # -- the redundant pair --------------------------------------------------------------------------------

    def unit_changed(self, unit: Component) -> None:
        if unit is self.active and not unit.up:
            self.available = False
            standby = next((u for u in self.units if u is not unit and u.up), None)
            if standby is not None:
                self.env.process(self._take_over(standby))
        elif unit.up and not self.available:
            # Both were down: the first unit back becomes active once it has taken over.
            self.env.process(self._take_over(unit))

    def _take_over(self, unit: Component):
        yield self.env.timeout(self.spec.takeover)
        if unit.up and not self.available:
            self.active = unit
            self.available = True
            self.takeovers += 1


class LoadBalancer(Component):
    SERVICE = BalancerPair
    OUTAGE = (
        "the standby unit takes over after the takeover time; until then, and while both units are down, "
        "no connection to the classes behind the balancer gets through, nor any user's IMAP, POP or webmail "
        "login (docs/clients.md)"
    )

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.pair: BalancerPair | None = None

    def went_down(self) -> None:
        super().went_down()
        self.pair.unit_changed(self)

    def came_up(self) -> None:
        super().came_up()
        self.pair.unit_changed(self)
