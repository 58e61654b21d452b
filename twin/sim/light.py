"""Light processes for the message paths: a generator that yields the seconds it waits, resumed straight
from SimPy's event loop, without a ``simpy.Process`` and without an event object per wait.

A ``simpy.Process`` costs two events of its own (the Initialize event that starts it and the event that
marks its end), a general resume loop (interrupts, failed events, return values) and a Timeout object per
wait. A message's path needs none of this: it waits for known times, nobody waits for its end and nobody
interrupts it. ``start`` runs the generator's first step at once, in the caller and at the current time;
each ``yield delay`` (seconds, >= 0) puts the process itself on SimPy's event queue, exactly where a
``Timeout(delay)`` would have gone (``Environment.schedule`` with priority NORMAL: the same time, priority
and order among equal times), and SimPy's ``step`` resumes it by calling its callbacks, as for any event.

The contract: a light process yields numbers only, never SimPy events, and nothing can be thrown into it
(no interrupts): a path that must react to a failure checks for it when it resumes (``Component.boot``).
A generator run as a light process can ``yield from`` other such generators; SimPy processes (the
components' own loops) never run them.
"""

from __future__ import annotations

from simpy.events import NORMAL


class LightProcess:
    """The process and its pending wake-up in one object: SimPy's ``step`` needs an event's ``callbacks``
    and ``_ok`` only."""

    __slots__ = ("_generator", "_ok", "_schedule", "callbacks")

    def __init__(self, env, generator):
        self._generator = generator
        self._schedule = env.schedule
        self._ok = True
        self.callbacks = None

    def resume(self, _event=None) -> None:
        try:
            delay = self._generator.send(None)
        except StopIteration:
            return
        if delay < 0:
            raise ValueError(f"a light process cannot wait a negative time ({delay!r} s)")
        # SimPy's step clears ``callbacks`` before calling them: this list is the only reference to the
        # bound method until then, and no reference cycle outlives the wake-up.
        self.callbacks = [self.resume]
        self._schedule(self, NORMAL, delay)


def start(env, generator) -> None:
    """Run ``generator`` as a light process from now on."""
    LightProcess(env, generator).resume()


def start_at(env, generator, delay: float = 0.0) -> None:
    """Run ``generator`` as a light process from ``delay`` seconds from now (its first step is a wake-up,
    where a ``Timeout(delay)`` would be)."""
    proc = LightProcess(env, generator)
    proc.callbacks = [proc.resume]
    env.schedule(proc, NORMAL, delay)
