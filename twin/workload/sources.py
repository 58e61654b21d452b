"""Poisson sources: messages offered at exponential gaps between a start and a stop time."""

from __future__ import annotations

import math

from twin.scenario.distributions import batched
from twin.scenario.schema import Source
from twin.sim.flow import Message, journey
from twin.workload.senders import RemoteSenders


class PoissonSource:
    def __init__(self, model, spec: Source):
        self.model = model
        self.spec = spec
        self.name = spec.name
        streams = model.streams
        rng = streams.generator(f"workload.{spec.name}.arrivals")
        mean_gap = 1.0 / spec.rate
        self._gap = batched(lambda n: rng.exponential(mean_gap, n))
        self._rcpts = streams.sampler(f"workload.{spec.name}.recipients", spec.recipients)
        self._size = streams.sampler(f"workload.{spec.name}.size", spec.size)
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, model.scenario.clock.horizon)
        self.senders = RemoteSenders(model, spec.name, spec.sender)
        self.offered_messages = 0
        self.offered_recipients = 0

    def run(self):
        model = self.model
        env, ledger = model.env, model.ledger
        group = model.groups[self.spec.enter]
        cls = ledger.classes.code(self.spec.traffic_class)
        origin = ledger.origins.code(self.name)
        gap, rcpts, size = self._gap, self._rcpts, self._size
        t, stop = self.start, self.stop
        while True:
            t += gap()
            if t >= stop:
                return
            yield env.timeout(t - env.now)
            n = max(1, math.ceil(rcpts()))
            nbytes = int(size())
            mid, r0 = ledger.offer(n, t, cls, origin, nbytes)
            self.offered_messages += 1
            self.offered_recipients += n
            env.process(journey(model, Message(mid, r0, n, nbytes), group, self.senders))
