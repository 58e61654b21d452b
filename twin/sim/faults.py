"""Outages: scheduled and random failures of nodes, propagated along ``runs_on`` (an ESX host failure
takes its virtual servers down with it), each recorded as an incident.

A node that is down refuses connections; what a client does about that is the client's protocol (the
remote senders' retries, in ``flow.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.scenario.schema import Outage, RandomFailures, match_nodes


@dataclass
class Incident:
    target: str
    kind: str  # the node's class
    start: float
    end: float  # NaN while still down at the end of the run
    cause: str


class FaultInjector:
    def __init__(self, model):
        self.model = model
        self.env = model.env
        self.incidents: list[Incident] = []
        # Which virtual servers run on each host (runs_on edges point from the VM to its host).
        self.guests: dict[str, list[str]] = {}
        for vm, host, key in model.graph.edges(keys=True):
            if key == "runs_on":
                self.guests.setdefault(host, []).append(vm)
        for i, fault in enumerate(model.scenario.faults):
            for node in match_nodes(model.scenario, fault.target):
                if isinstance(fault, Outage):
                    self.env.process(self._outage(fault, node))
                elif isinstance(fault, RandomFailures):
                    self.env.process(self._random(fault, node, i))

    def fail(self, node: str, cause: str) -> list[int]:
        """Take ``node`` and its guests down; returns the incidents to close on repair."""
        comp = self.model.components[node]
        comp.down_causes += 1
        if comp.down_causes == 1:
            comp.changed()
        opened = [len(self.incidents)]
        self.incidents.append(Incident(node, comp.attrs["kind"], self.env.now, math.nan, cause))
        for guest in self.guests.get(node, ()):
            opened += self.fail(guest, f"{node} down: {cause}")
        return opened

    def repair(self, opened: list[int]) -> None:
        for index in opened:
            incident = self.incidents[index]
            incident.end = self.env.now
            comp = self.model.components[incident.target]
            comp.down_causes -= 1
            if comp.down_causes == 0:
                comp.changed()

    def _outage(self, fault: Outage, node: str):
        yield self.env.timeout(fault.at)
        opened = self.fail(node, fault.cause)
        yield self.env.timeout(fault.end - fault.at)
        self.repair(opened)

    def _random(self, fault: RandomFailures, node: str, index: int):
        streams = self.model.streams
        up_time = streams.sampler(f"faults.{index}.{node}.mtbf", fault.mtbf)
        down_time = streams.sampler(f"faults.{index}.{node}.mttr", fault.mttr)
        stop = math.inf if fault.stop is None else fault.stop
        yield self.env.timeout(fault.start)
        while True:
            yield self.env.timeout(up_time())
            if self.env.now >= stop:
                return
            opened = self.fail(node, fault.cause)
            yield self.env.timeout(down_time())
            self.repair(opened)
