"""Sources of messages: Poisson sources (exponential gaps between a start and a stop time), and the base of
the sources that draw their messages an hour at a time (the users' mail, posts to the lists)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from twin.scenario.distributions import batched
from twin.scenario.schema import Source
from twin.sim.flow import Attempt, Message, MessagePath, journey
from twin.sim.light import start, start_at
from twin.sim.senders import RemoteSenders

HOUR = 3600.0


class HourlySource:
    """A source that draws its messages an hour at a time: ``_offer_hour(t, span)``, which each subclass
    defines, at the start of each simulated hour (the first and last may be shorter) from ``start`` to
    ``stop``, in a light process. It offers the hour's messages to the ledger and returns their senders'
    paths with their start times, in time order; this process starts each path at its time. (One pending
    wake-up per source rather than one per message keeps SimPy's event queue short: a whole hour of
    users' mail waiting in it made every event a few per cent dearer.)"""

    env: object
    start: float
    stop: float
    # the hour [t, t + span): (start time, sender's path) of each message, in time order
    _offer_hour: Callable[[float, float], Iterable[tuple[float, MessagePath]]]

    def begin(self) -> None:
        start_at(self.env, self._hours(), max(0.0, self.start - self.env.now))

    def _hours(self):
        env = self.env
        t = env.now
        while t < self.stop:
            span = min(HOUR - (t % HOUR), self.stop - t)
            start(env, self._starts(self._offer_hour(t, span)))
            t += span
            yield t - env.now

    def _starts(self, paths: Iterable[tuple[float, MessagePath]]):
        """Start each path at its time (the clock reads it to within a rounding step: the wait is counted
        from the path before, not from the hour's start)."""
        env = self.env
        for at, path in paths:
            if at > env.now:
                yield at - env.now
            start(env, path)


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
        mean_gap = 1.0 / (spec.rate * ctx.scenario.workload.scale)
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
