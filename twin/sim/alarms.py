"""Alarms: wake-ups far ahead, kept out of SimPy's event queue.

Every event SimPy processes costs a push and a pop on its queue, a heap whose depth grows with the number
of pending events. Thousands of users' sessions that sit open for minutes or hours each would keep as many
entries there and make every other event dearer. ``Alarms`` keeps them in a heap of its own and puts only
its earliest wake-up on SimPy's queue: a session costs the main queue one entry instead of one per
session. An alarm starts a light process (``sim/light.py``) at its time; alarms due at the same time start
in the order they were set.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator

from twin.sim.light import start, start_at


class Alarms:
    def __init__(self, env):
        self.env = env
        self._heap: list[tuple[float, int, Callable[[], Generator]]] = []
        self._seq = 0
        self._wakes: set[float] = set()  # the times of this object's pending wake-ups on SimPy's queue

    def __len__(self) -> int:
        return len(self._heap)

    def at(self, t: float, process: Callable[[], Generator]) -> None:
        """Start the light process ``process()`` at time ``t`` (not before now)."""
        now = self.env.now
        if t < now:
            raise ValueError(f"an alarm cannot ring in the past ({t!r} < {now!r})")
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, process))
        self._arm()

    def _arm(self) -> None:
        heap, wakes = self._heap, self._wakes
        if heap and (not wakes or heap[0][0] < min(wakes)):
            t = heap[0][0]
            wakes.add(t)
            start_at(self.env, self._ring(t), t - self.env.now)

    def _ring(self, t: float) -> Generator[float, None, None]:
        self._wakes.discard(t)
        heap, env = self._heap, self.env
        now = env.now
        while heap and heap[0][0] <= now:
            start(env, heapq.heappop(heap)[2]())
        self._arm()
        return
        yield  # a generator that ends at its first step
