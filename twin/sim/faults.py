"""Outages: scheduled and random failures of nodes, propagated along ``runs_on`` (an ESX host failure
takes its virtual servers down with it), each recorded as an incident; losses, outages after which the
node comes back empty (``Component.lose_data``); and degraded periods, in which a node works but its
stations serve ``factor`` times slower (an incident too, marked ``degraded``).

VMware HA (``esx.ha``): ``restart_delay`` after a host fails, each of its VMs that is down only because of
it starts again on the surviving host with the fewest VMs that has room (``vms_per_host``, admission
control); the VM's incident ends then, and it stays on its new host. A VM without room stays down until
its host is back. Without HA every VM waits for its host.

A node that is down does nothing: the injector tells the component (``went_down`` / ``came_up``), which
cuts its work in progress as its protocol says; what its clients do about it is theirs (the remote
senders' retries, the frontends' retry rules). The injector also keeps each node's ``next_down``, the
earliest failure it has planned for it (its own, or its ESX host's), so that a decision taken ahead of
time (the SMTP refusals decided at connect) can tell whether the node will still be up to carry it out.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

from twin.scenario.schema import Degraded, Loss, Outage, RandomFailures, match_nodes


@dataclass
class Incident:
    target: str
    kind: str  # the node's class
    start: float
    end: float  # NaN while still down at the end of the run
    cause: str
    factor: float = math.inf  # how many times slower the node worked; inf: it was down
    loss: bool = False  # the node came back empty
    restarted_on: str | None = None  # VMware HA started the VM again on this host
    lost: int = 0  # recipients whose only copy was on the node (a loss)


class FaultInjector:
    def __init__(self, ctx, components: dict):
        self.env = ctx.env
        self.streams = ctx.streams
        self.components = components
        self.incidents: list[Incident] = []
        # Which virtual servers run on each host (runs_on edges point from the VM to its host).
        self.guests: dict[str, list[str]] = {}
        self.host: dict[str, str] = {}
        for vm, host, key in ctx.graph.edges(keys=True):
            if key == "runs_on":
                self.guests.setdefault(host, []).append(vm)
                self.host[vm] = host
        self._planned: dict[str, list[float]] = {}  # node -> heap of its own planned failure times
        self._slow: dict[str, list[float]] = {}  # node -> factors of its degradations in force
        for i, fault in enumerate(ctx.scenario.faults):
            for node in match_nodes(ctx.scenario, fault.target):
                if isinstance(fault, Outage | Loss):
                    self._plan(node, fault.at)
                    self.env.process(self._outage(fault, node))
                elif isinstance(fault, Degraded):
                    self.env.process(self._degraded(fault, node))
                elif isinstance(fault, RandomFailures):
                    self.env.process(self._random(fault, node, i))

    # -- planned failures --------------------------------------------------------------------------------

    def _plan(self, node: str, t: float) -> None:
        heapq.heappush(self._planned.setdefault(node, []), t)
        self._refresh(node)

    def _unplan(self, node: str, t: float) -> None:
        planned = self._planned[node]
        planned.remove(t)
        heapq.heapify(planned)
        self._refresh(node)

    def _refresh(self, node: str) -> None:
        planned = self._planned.get(node)
        own = planned[0] if planned else math.inf
        host = self.host.get(node)
        self.components[node].next_down = min(own, self.components[host].next_down) if host else own
        for guest in self.guests.get(node, ()):
            self._refresh(guest)

    # -- failing and repairing -----------------------------------------------------------------------------

    def fail(self, node: str, cause: str, loss: bool = False) -> list[int]:
        """Take ``node`` and its guests down (``loss``: ``node`` comes back empty; its guests' disks are
        on shared storage and survive); returns the incidents to close on repair."""
        comp = self.components[node]
        comp.down_causes += 1
        if comp.down_causes == 1:
            comp.went_down()
        lost = comp.lose_data() if loss else 0
        opened = [len(self.incidents)]
        self.incidents.append(Incident(node, comp.kind, self.env.now, math.nan, cause, loss=loss, lost=lost))
        guests = list(self.guests.get(node, ()))
        for guest in guests:
            opened += self.fail(guest, f"{node} down: {cause}")
        spec = comp.spec
        if guests and getattr(spec, "ha", False):
            self.env.process(self._ha_restart(node, opened[1:], spec))
        return opened

    def repair(self, opened: list[int]) -> None:
        for index in opened:
            incident = self.incidents[index]
            if not math.isnan(incident.end):
                continue  # ended already: VMware HA started the VM on another host
            incident.end = self.env.now
            self._up_again(incident.target)

    def _up_again(self, node: str) -> None:
        comp = self.components[node]
        comp.down_causes -= 1
        if comp.down_causes == 0:
            comp.came_up()

    def _ha_restart(self, host: str, opened: list[int], spec):
        """VMware HA: after ``restart_delay`` the failed host's VMs start on the surviving hosts."""
        yield self.env.timeout(spec.restart_delay)
        limit = spec.vms_per_host or math.inf
        hosts = [n for n, c in self.components.items() if c.kind == "esx" and n != host]
        for index in opened:
            incident = self.incidents[index]
            vm = incident.target
            if not math.isnan(incident.end) or self.host.get(vm) != host:
                continue
            if self.components[vm].down_causes != 1:
                continue  # down for a reason of its own too: HA cannot start it
            room = [h for h in hosts if self.components[h].up and len(self.guests.get(h, ())) < limit]
            if not room:
                continue  # admission control: no host may take it; it waits for its own host
            new = min(room, key=lambda h: len(self.guests.get(h, ())))
            self.guests[host].remove(vm)
            self.guests.setdefault(new, []).append(vm)
            self.host[vm] = new
            self._refresh(vm)
            incident.end = self.env.now
            incident.restarted_on = new
            self._up_again(vm)

    def _outage(self, fault: Outage | Loss, node: str):
        yield self.env.timeout(fault.at)
        self._unplan(node, fault.at)
        opened = self.fail(node, fault.cause, loss=isinstance(fault, Loss))
        yield self.env.timeout(fault.end - fault.at)
        self.repair(opened)

    def _degraded(self, fault: Degraded, node: str):
        """The node's stations serve ``factor`` times slower for the fault's time (work already assigned
        keeps its end: the slowdown applies to what arrives meanwhile)."""
        yield self.env.timeout(fault.at)
        comp = self.components[node]
        incident = Incident(node, comp.kind, self.env.now, math.nan, fault.cause, fault.factor)
        self.incidents.append(incident)
        active = self._slow.setdefault(node, [])
        active.append(fault.factor)
        self._set_slowdown(comp, active)
        yield self.env.timeout(fault.end - fault.at)
        active.remove(fault.factor)
        self._set_slowdown(comp, active)
        incident.end = self.env.now

    def _set_slowdown(self, comp, factors: list[float]) -> None:
        slowdown = math.prod(factors)  # overlapping degradations multiply; none: exactly 1.0 again
        for station in comp.stations():
            station.set_slowdown(slowdown, self.env.now)

    def _random(self, fault: RandomFailures, node: str, index: int):
        up_time = self.streams.sampler(f"faults.{index}.{node}.mtbf", fault.mtbf)
        down_time = self.streams.sampler(f"faults.{index}.{node}.mttr", fault.mttr)
        stop = math.inf if fault.stop is None else fault.stop
        up = up_time()  # the first up time is drawn now, so that its failure is planned from the start
        at = fault.start + up
        if at < stop:
            self._plan(node, at)
        yield self.env.timeout(fault.start)
        while True:
            if at >= stop:
                return
            yield self.env.timeout(up)
            self._unplan(node, at)
            opened = self.fail(node, fault.cause)
            yield self.env.timeout(down_time())
            self.repair(opened)
            up = up_time()
            at = self.env.now + up
            if at < stop:
                self._plan(node, at)
