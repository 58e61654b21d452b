"""The Model: a SimPy environment with one component object per topology node, the workload sources,
the probe, and a run loop that counts events and reports progress.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable

import networkx as nx
import simpy

from twin.components import DEFAULT, REGISTRY, Component, Group
from twin.components.balancer import BalancerPair
from twin.components.smtp import Stages
from twin.scenario.schema import Scenario
from twin.sim.faults import FaultInjector
from twin.sim.ledger import Ledger
from twin.sim.light import start_at
from twin.sim.probes import Probe
from twin.sim.streams import Streams
from twin.topology import build_topology
from twin.workload.inbound import InboundSource
from twin.workload.mailboxes import Mailboxes
from twin.workload.sources import PoissonSource

Progress = Callable[[float, float], None]  # (simulated seconds done, simulated seconds in all)


class Model:
    def __init__(self, scenario: Scenario, seed: int = 0, graph: nx.MultiDiGraph | None = None):
        self.scenario = scenario
        self.seed = seed
        self.env = simpy.Environment()
        self.streams = Streams(seed)
        self.ledger = Ledger()
        self.graph = graph if graph is not None else build_topology(scenario)
        self.end = scenario.end

        classes = scenario.platform.classes()
        self.components: dict[str, Component] = {}
        for name, attrs in self.graph.nodes(data=True):
            kind = attrs["kind"]
            spec = scenario.platform.stations[name] if kind == "station" else classes.get(kind)
            self.components[name] = REGISTRY.get(kind, DEFAULT)(self, name, attrs, spec)

        self.groups: dict[str, Group] = {}
        by_target: dict[str, list[Component]] = {}
        for comp in self.components.values():
            by_target.setdefault(comp.group, []).append(comp)
        for target, members in by_target.items():
            spec = members[0].spec
            policy = getattr(spec, "balance", None) or scenario.policies.balance
            self.groups[target] = Group(target, members, policy, self)
        for comp in self.components.values():
            comp.wire()
        lbs = self.groups.get("load_balancer")
        self.balancer = (
            BalancerPair(self, lbs.members, scenario.platform.load_balancer) if lbs is not None else None
        )

        # What the SMTP transactions need (components/smtp.py).
        self.internet_latency = scenario.platform.network.internet_latency
        self.quarantine_at = scenario.policies.spam.quarantine_at
        self.smtp_stages = Stages(self.ledger)
        self.smtp_replies = array("d")  # seconds from a client's command to the frontend's reply
        self.tempfails: dict[int, int] = {}  # 4xx and failed connections, by ledger stage code
        self.transactions = 0  # SMTP transactions remote senders began (each try counts)
        self.data_transfers = 0  # ... of which reached DATA
        self.mailboxes = Mailboxes(self, scenario.workload.mailboxes)
        inbound = scenario.workload.inbound
        self.transfer_rate = inbound.transfer_rate if inbound is not None else 1.0
        self.sources = [PoissonSource(self, s) for s in scenario.workload.sources if s.enabled]
        # Arrivals the run loop merges with SimPy's events (not processes): the inbound workload.
        self.arrivals = InboundSource(self, inbound) if inbound is not None and inbound.enabled else None
        if self.arrivals is not None:
            self.sources.append(self.arrivals)
            # Room for the expected rows plus a margin (bounces, notices, chance), so that the columns
            # need not be copied as they grow: that copying is slow and doubles the memory for a moment.
            self.ledger.reserve(int(1.1 * self.arrivals.expected_recipients()))
        self.faults = FaultInjector(self)
        self.probe = Probe(self, scenario.outputs.sample_interval, self.end)
        for comp in self.components.values():
            comp.start()
        for src in self.sources:
            if src is not self.arrivals:
                start_at(self.env, src.run())
        self.env.process(self.probe.run())
        if scenario.clock.warmup > 0:
            self.env.process(self._end_warmup(scenario.clock.warmup))
        self.events = 0
        self.wall_seconds = 0.0
        self.generated_recipients = 0  # bounces and delay warnings the platform itself wrote

    def tempfail(self, stage: int) -> int:
        """Count a temporary refusal of an SMTP transaction at ``stage``; returns the stage."""
        self.tempfails[stage] = self.tempfails.get(stage, 0) + 1
        return stage

    def _end_warmup(self, at: float):
        yield self.env.timeout(at)
        for comp in self.components.values():
            if comp.station is not None:
                comp.station.reset_stats(self.env.now)

    def run(self, progress: Progress | None = None, every: float = 0.5) -> None:
        """Process every event and arrival before ``end`` (horizon + drain) and close the books;
        ``progress`` is called about every ``every`` wall seconds."""
        self.advance(self.end, progress, every)
        self.probe.finish(self.end)
        self.ledger.flush()
        if progress is not None:
            progress(self.end, self.end)

    def advance(self, until: float, progress: Progress | None = None, every: float = 0.5) -> None:
        """Process the events and arrivals before ``until``, in time order (an arrival before an event
        at the same time), and move the clock to ``until``. SimPy's ``env.run`` alone would process the
        events but not the arrivals."""
        env = self.env
        step, peek = env.step, env.peek
        arrivals = self.arrivals
        if arrivals is not None:
            arrivals.begin()
        n = 0
        t0 = time.perf_counter()
        next_report = t0 + every
        while True:
            t = peek()
            if arrivals is not None and arrivals.next_at <= t:
                if arrivals.next_at >= until:
                    break
                arrivals.admit(until)
                continue
            if t >= until:
                break
            step()
            n += 1
            if progress is not None and not n & 0xFFF:
                now = time.perf_counter()
                if now >= next_report:
                    progress(env.now, self.end)
                    next_report = now + every
        if until > env.now and until != float("inf"):
            env.run(until=until)  # nothing is left before ``until``: this only moves the clock there
        self.events += n
        self.wall_seconds += time.perf_counter() - t0
