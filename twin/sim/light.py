"""Light processes for the message paths: a generator resumed straight from the callbacks of the events
it yields, without a ``simpy.Process``.

A ``simpy.Process`` costs two events of its own (the Initialize event that starts it and the event that
marks its end) and a general resume loop (interrupts, failed events, return values). A message's path
needs none of this: it yields timeouts, nobody waits for its end and nobody interrupts it. ``start`` runs
the generator's first step at once, in the caller and at the current time, then each event the
generator yields resumes it when SimPy processes that event, in SimPy's order.

The contract: only for generators that yield events which succeed (timeouts). ``yield event``
evaluates to None, not to the event's value, and nothing can be thrown into the generator (no
interrupts): a path that must react to a failure checks for it when it resumes (``Component.boot``). A
failed event is not passed on to the generator; SimPy itself raises it from ``step`` unless someone
defused it, so it cannot pass silently for a success.
"""

from __future__ import annotations


class LightProcess:
    __slots__ = ("_generator",)

    def __init__(self, generator):
        self._generator = generator

    def resume(self, _event=None) -> None:
        generator = self._generator
        while True:
            try:
                event = generator.send(None)
            except StopIteration:
                return
            if event.callbacks is not None:  # not yet processed: wait for it
                # A bound method made afresh: kept on self it would make a reference cycle, leaving every
                # finished process to the cyclic garbage collector.
                event.callbacks.append(self.resume)
                return


def start(generator) -> None:
    """Run ``generator`` as a light process from now on."""
    LightProcess(generator).resume()


def start_at(env, generator, delay: float = 0.0) -> None:
    """Run ``generator`` as a light process from ``delay`` seconds from now (its first step is an event)."""
    env.timeout(delay).callbacks.append(LightProcess(generator).resume)
