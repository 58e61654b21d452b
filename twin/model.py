"""The Model: assembles one run from the scenario and its topology (one component per node, the groups
and services they share, the workload sources, the fault injector, the probe) and runs it: a loop that
merges arrivals with SimPy's events, counts events and reports progress.

This module sits above ``components`` and ``workload``: they never import it. What a part needs it gets
at construction (``sim.context.Context``) or finds through the graph (``Component.wire``).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from contextlib import contextmanager

import networkx as nx
import simpy

from twin.components import DEFAULT, REGISTRY, Component, Group
from twin.components.access import MailAccess
from twin.components.domains import Domains
from twin.components.filters import Filters
from twin.components.mailboxes import Mailboxes
from twin.components.mailman import ListPopulation
from twin.scenario import Problem, ScenarioError
from twin.scenario.loading import revalidate
from twin.scenario.schema import Scenario
from twin.sim.context import Context
from twin.sim.faults import FaultInjector
from twin.sim.flow import entry_into
from twin.sim.ledger import Ledger
from twin.sim.probes import Probe
from twin.sim.streams import Streams
from twin.topology import build_topology
from twin.workload.clients import ClientSource
from twin.workload.inbound import InboundSource
from twin.workload.lists import ListPostSource
from twin.workload.sources import PoissonSource
from twin.workload.submission import SubmissionSource

Progress = Callable[[float, float], None]  # (simulated seconds done, simulated seconds in all)

# How the ledger keeps its memory small (not numbers of the platform: they change no result). Almost every
# recipient is final within minutes of its offer; what waits longer (a spool waiting for a full mailbox, a
# sender retrying) stays in memory as a stray row, cheaply.
RETIRE_EVERY = 600.0
RETIRE_AFTER = 3600.0


class Model:
    def __init__(self, scenario: Scenario, seed: int = 0, graph: nx.MultiDiGraph | None = None):
        # Checked again as it will be used: a scenario changed since its validation fails here, clearly.
        self.scenario = scenario = revalidate(scenario)
        self.seed = seed
        self.env = env = simpy.Environment()
        self.streams = Streams(seed)
        self.ledger = Ledger()
        self.graph = graph if graph is not None else build_topology(scenario)
        self.end = scenario.end
        mailboxes = Mailboxes(env, self.streams, scenario.workload.mailboxes)
        domains = Domains(self.streams, scenario.workload.remote, self.end)
        ctx = Context(env, self.streams, self.ledger, self.graph, scenario, self.end, mailboxes, domains)
        sieve = scenario.workload.mailboxes.sieve
        # stage 12: the mailboxes' scripts, which the stores run at delivery
        ctx.filters = Filters(ctx, sieve) if sieve is not None and sieve.enabled and mailboxes.count else None
        lists = scenario.workload.lists
        # Mailman's lists and their members, which the list server expands posts to
        ctx.lists = (
            ListPopulation(self.streams, lists, mailboxes, domains) if lists and lists.enabled else None
        )
        self.ctx = ctx

        classes = scenario.platform.classes()
        self.components: dict[str, Component] = {}
        for name, attrs in self.graph.nodes(data=True):
            kind = attrs["kind"]
            spec = scenario.platform.stations[name] if kind == "station" else classes.get(kind)
            self.components[name] = REGISTRY.get(kind, DEFAULT)(ctx, name, attrs, spec)

        self.groups: dict[str, Group] = {}
        by_target: dict[str, list[Component]] = {}
        for comp in self.components.values():
            by_target.setdefault(comp.group, []).append(comp)
        for target, members in by_target.items():
            policy = getattr(members[0].spec, "balance", None) or scenario.policies.balance
            self.groups[target] = Group(target, members, policy, ctx)
        for comp in self.components.values():
            comp.wire(self.groups)

        # Services: what the instances of a class share (Component.SERVICE), and the mailbox population.
        self.services: list = [mailboxes] if ctx.filters is None else [mailboxes, ctx.filters]
        for group in self.groups.values():
            service = type(group.members[0]).SERVICE
            if service is not None:
                group.service = service(ctx, group)
                self.services.append(group.service)
        self.sources: list = [
            PoissonSource(ctx, s, entry_into(env, self.ledger, self.groups[s.enter]))
            for s in scenario.workload.sources
            if s.enabled
        ]
        # Arrivals the run loop merges with SimPy's events (not processes): the inbound workload, handed to
        # the frontends' SMTP service (the address the Internet's mail servers connect to).
        self.arrivals = None
        inbound = scenario.workload.inbound
        if inbound is not None and inbound.enabled and "frontend" in self.groups:
            self.arrivals = InboundSource(ctx, inbound, self.groups["frontend"].service)
            self.sources.append(self.arrivals)
        submission = scenario.workload.submission
        if submission is not None and submission.enabled and "frontend" in self.groups:
            # the users' mail: the frontends' submission service, through the balancer
            self.sources.append(SubmissionSource(ctx, submission, self.groups["frontend"].service.submission))
        if ctx.lists is not None and "frontend" in self.groups:
            # posts to the lists, from their members here (submission) and outside (SMTP)
            self.sources.append(ListPostSource(ctx, lists, self.groups["frontend"].service))
        clients = scenario.workload.clients
        if clients is not None and clients.enabled and "store" in self.groups:
            # the users reading their mail: sessions at the store's address, through the balancer
            stores = self.groups["store"]
            balancer = self.groups.get("load_balancer")
            first = stores.members[0]
            access = MailAccess(
                ctx,
                clients,
                stores,
                balancer.service if balancer else None,
                first.peer("kdc"),
                first.peer("ldap"),
            )
            self.services.append(access)
            self.sources.append(ClientSource(ctx, clients, access))
        self.faults = FaultInjector(ctx, self.components)
        gauges = tuple(dict.fromkeys(g for cls in (*REGISTRY.values(), DEFAULT) for g in cls.GAUGES))
        interval = scenario.outputs.sample_interval
        self.probe = Probe(env, list(self.components.values()), gauges, interval, self.end)
        for comp in self.components.values():
            comp.start()
        for src in self.sources:
            if src is not self.arrivals:
                src.begin()
        env.process(self.probe.run())
        env.process(self._retire_ledger())
        if scenario.clock.warmup > 0:
            env.process(self._end_warmup(scenario.clock.warmup))
        self.events = 0
        self.wall_seconds = 0.0

    @property
    def parts(self) -> list:
        """Everything that reports its own results: the components, then the shared services."""
        return [*self.components.values(), *self.services]

    def _retire_ledger(self):
        """Every ``RETIRE_EVERY``, the ledger writes the rows offered more than ``RETIRE_AFTER`` ago to
        disk (those still pending stay in memory): memory grows with the mail in flight, not with the
        horizon."""
        env = self.env
        while True:
            yield env.timeout(RETIRE_EVERY)
            self.ledger.retire(before=env.now - RETIRE_AFTER)

    def _end_warmup(self, at: float):
        yield self.env.timeout(at)
        for comp in self.components.values():
            for station in comp.stations():
                station.reset_stats(self.env.now)

    def run(self, progress: Progress | None = None, every: float = 0.5) -> None:
        """Process every event and arrival before ``end`` (horizon + drain) and close the books;
        ``progress`` is called about every ``every`` wall seconds. Station statistics cover [warm-up,
        horizon] unless ``outputs.statistics_include_drain``."""
        horizon = self.scenario.clock.horizon
        self.advance(horizon, progress, every)
        if not self.scenario.outputs.statistics_include_drain:
            for comp in self.components.values():
                for station in comp.stations():
                    station.close_window(horizon)
        self.advance(self.end, progress, every)
        self.probe.finish(self.end)
        self.ledger.flush()
        if progress is not None:
            progress(self.end, self.end)

    def advance(self, until: float, progress: Progress | None = None, every: float = 0.5) -> None:
        """Process the events and arrivals before ``until``, in time order (an arrival before an event
        at the same time), and move the clock to ``until``. SimPy's ``env.run`` alone would process the
        events but not the arrivals."""
        if not isinstance(until, int | float) or until != until or until < self.env.now:
            raise ScenarioError(
                [Problem("until", None, "", f"expected a time >= now ({self.env.now:g} s), got {until!r}")]
            )
        env = self.env
        if self.arrivals is not None:
            self.arrivals.begin()
        t0 = time.perf_counter()
        next_report = t0 + every
        with _rarer_young_collections():
            n = self._loop(until, progress, every, next_report)
        if until > env.now and until != float("inf"):
            env.run(until=until)  # nothing is left before ``until``: this only moves the clock there
        self.events += n
        self.wall_seconds += time.perf_counter() - t0

    def _loop(self, until: float, progress: Progress | None, every: float, next_report: float) -> int:
        """``advance``'s loop: returns the events processed."""
        env = self.env
        step, peek = env.step, env.peek
        arrivals = self.arrivals
        n = 0
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
        return n


# Allocations between two collections of the youngest generation while the model runs (Python's default
# is 700). A message's path allocates and frees generators, tuples and lists by the dozen and keeps no
# reference cycles, so the collector rarely finds anything; collecting less often saved about 3 % of the
# run (docs/performance.md). The older generations keep their thresholds.
YOUNG_THRESHOLD = 50_000


@contextmanager
def _rarer_young_collections():
    old = gc.get_threshold()
    if old[0]:  # 0: the caller switched automatic collection off; leave it so
        gc.set_threshold(max(old[0], YOUNG_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)
