"""Sources of messages: Poisson sources (exponential gaps between a start and a stop time), and the base of
the sources that draw their messages an hour at a time (the users' mail, posts to the lists)."""

from __future__ import annotations

import math
from collections.abc import Callable

from twin.scenario.distributions import batched
from twin.scenario.schema import Source
from twin.sim.flow import Attempt, Message, journey
from twin.sim.light import start, start_at
from twin.sim.senders import RemoteSenders

HOUR = 3600.0


class HourlySource:
    """A source that draws its messages an hour at a time: ``_offer_hour(t, span)``, which each subclass
    defines, at the start of each simulated hour (the first and last may be shorter) from ``start`` to
    ``stop``, in a light process."""

    env: object
    start: float
    stop: float
    _offer_hour: Callable[[float, float], None]  # offers the messages of [t, t + span)

    def begin(self) -> None:
        start_at(self.env, self._hours(), max(0.0, self.start - self.env.now))

    def _hours(self):
        env = self.env
        t = env.now
        while t < self.stop:
            span = min(HOUR - (t % HOUR), self.stop - t)
            self._offer_hour(t, span)
            t += span
            yield t - env.now


class PoissonSource:
    """Offers each message to ``attempt`` (the entry point the model gives it: the class or station
    named by ``enter``), in the remote sender's process."""

    def __init__(self, ctx, spec: Source, attempt: Attempt):
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.spec = spec
        self.name = spec.name
        self.attempt = attempt
        streams = ctx.streams
        rng = streams.generator(f"workload.{spec.name}.arrivals")
        mean_gap = 1.0 / spec.rate
        self._gap = batched(lambda n: rng.exponential(mean_gap, n))
        self._rcpts = streams.sampler(f"workload.{spec.name}.recipients", spec.recipients)
        self._size = streams.sampler(f"workload.{spec.name}.size", spec.size)
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, ctx.scenario.clock.horizon)
        self.senders = RemoteSenders(streams, spec.name, spec.sender)
        self.offered_messages = 0
        self.offered_recipients = 0

    def begin(self) -> None:
        start_at(self.env, self.run())

    def run(self):
        env, ledger = self.env, self.ledger
        cls = ledger.classes.code(self.spec.traffic_class)
        origin = ledger.origins.code(self.name)
        gap, rcpts, size = self._gap, self._rcpts, self._size
        t, stop = self.start, self.stop
        while True:
            t += gap()
            if t >= stop:
                return
            yield t - env.now
            n = max(1, math.ceil(rcpts()))
            nbytes = int(size())
            mid, r0 = ledger.offer(n, t, cls, origin, nbytes)
            self.offered_messages += 1
            self.offered_recipients += n
            start(env, journey(env, ledger, Message(mid, r0, n, nbytes), self.attempt, self.senders))
