"""Station: ``servers`` identical servers in front of one FIFO queue, with the statistics queueing theory
speaks of (waiting time, sojourn time, time-average number waiting and in service).

This is the machinery every component that does work is built on: a generic queueing station, the CPU of
a frontend, a scanner or the store, a disk array.

How it works: in a FIFO multi-server queue whose service times are known when a customer arrives, the
customer's start and end of service follow at once from the servers' next free times (the
Kiefer-Wolfowitz recursion: start = max(arrival, earliest free server), end = start + service, and that
server is next free at end). ``assign`` does exactly that, so a customer costs one heap operation and the
caller one timeout to the end of service, with no events for queueing or hand-over; a caller that has
nothing to do at the end of service needs no event at all. It is exact, not an approximation: FIFO order
means no later arrival changes an earlier customer's times.

The time-weighted statistics follow from the same numbers: work assigned to a server beyond ``now`` is
contiguous from ``now`` to its next free time, so the busy-server time up to ``now`` is the work assigned
minus the work still ahead; the waiting-time area is the waits assigned minus the waiting still ahead.

What a Station cannot do: only FIFO, no priorities and no preemption (a two-hour batch job assigned as one
customer blocks everyone behind it: cut such work into pieces); the times given to ``assign`` must not
decrease (``assign_after`` books a later step of an exchange now); a customer's times are fixed when it
arrives, so a node that fails must ``cut`` its station (the customers present leave at that moment without
service) and its clients must check that the node they waited for is still the one that answers
(``Component.boot``).
"""

from __future__ import annotations

import heapq
from collections import deque

import simpy


class Station:
    __slots__ = (
        "_area_busy0",
        "_area_queue0",
        "_arrivals0",
        "_free",
        "_gave_up",
        "_wait0",
        "_waiting",
        "_window",
        "_work0",
        "arrivals",
        "env",
        "name",
        "servers",
        "slowdown",
        "stats_from",
        "wait_total",
        "work_total",
    )

    def __init__(self, env: simpy.Environment, name: str, servers: int):
        if servers < 1:
            raise ValueError(f"station {name!r} needs at least one server (got {servers})")
        self.env = env
        self.name = name
        self.servers = servers
        self.slowdown = 1.0  # > 1 while the node is degraded (faults: kind degraded)
        self._free = [0.0] * servers  # heap of the servers' next free times
        self._waiting: deque[tuple[float, float]] = deque()  # (arrival, start) of customers who wait
        self._gave_up: list[tuple[float, float]] = []  # (arrival, leave) of customers waiting to give up
        self.arrivals = 0  # cumulative, for probes
        self.work_total = 0.0  # service seconds assigned since time 0
        self.wait_total = 0.0  # waiting seconds assigned since time 0
        self._window: dict[str, float] | None = None
        self.reset_stats(0.0)

    def reset_stats(self, now: float) -> None:
        """Start the statistics afresh (end of warm-up); the customers present stay. Customers are
        counted when they arrive, so the per-customer figures are the running totals since ``now``."""
        self.stats_from = now
        self._area_busy0 = self.busy_total_at(now)
        self._area_queue0 = self.queue_area_at(now)
        self._arrivals0 = self.arrivals
        self._wait0 = self.wait_total
        self._work0 = self.work_total

    # -- customers -----------------------------------------------------------------------------------------

    def assign(self, service_time: float, now: float | None = None) -> float:
        """A customer arriving now (or at ``now``, which must not be earlier than any arrival before it)
        with ``service_time`` of work: returns when its service ends."""
        if now is None:
            now = self.env.now
        service_time *= self.slowdown
        free = self._free
        start = free[0]
        if start < now:
            start = now
        end = start + service_time
        heapq.heapreplace(free, end)
        self.arrivals += 1
        self.work_total += service_time
        if start > now:
            self._waiting.append((now, start))
            self.wait_total += start - now
        return end

    def assign_after(self, service_time: float, ready: float) -> float:
        """A step of an exchange that can start only at ``ready`` (when its earlier step, elsewhere,
        ends): returns when it ends. It is booked as a customer arriving now, so that the times
        ``assign`` sees never decrease, and it ends no earlier than ``ready`` plus its service. The
        approximation: its server is held from when it is free rather than from ``ready``, so it may go
        ahead of customers that arrive between now and ``ready`` (milliseconds in the exchanges that use
        it: a login after the session's CPU work, a lookup after a login)."""
        end = self.assign(service_time)
        later = ready + service_time * self.slowdown
        return later if later > end else end

    def assign_within(self, service_time: float, patience: float) -> float | None:
        """``assign``, but a customer who would wait longer than ``patience`` does not stay: returns None
        (it leaves after ``patience`` without service)."""
        now = self.env.now
        if self._free[0] - now <= patience:
            return self.assign(service_time)
        self.arrivals += 1
        self.wait_total += patience  # a customer who gives up waits ``patience`` and is served for 0 s
        self._gave_up.append((now, now + patience))
        return None

    def serve(self, service_time: float):
        """Wait for a server, hold it for ``service_time``: a generator to ``yield from``."""
        env = self.env
        yield self.assign(service_time) - env.now

    def cut(self, now: float) -> None:
        """The node failed at ``now``: every customer present leaves now, without the rest of its service
        or its wait; the servers are free from now. The statistics keep what happened until now."""
        free = self._free
        self.work_total -= sum(f - now for f in free if f > now)
        self._prune(now)
        self.wait_total -= sum(s - max(a, now) for a, s in self._waiting)
        self.wait_total -= sum(leave - max(a, now) for a, leave in self._gave_up)
        self._waiting.clear()
        self._gave_up = []
        self._free = [min(f, now) for f in free]
        heapq.heapify(self._free)

    # -- state at a time -----------------------------------------------------------------------------------

    def _prune(self, now: float) -> None:
        waiting = self._waiting
        while waiting and waiting[0][1] <= now:
            waiting.popleft()
        if self._gave_up:
            self._gave_up = [w for w in self._gave_up if w[1] > now]

    @property
    def busy(self) -> int:
        now = self.env.now
        return sum(1 for f in self._free if f > now)

    @property
    def queued(self) -> int:
        self._prune(self.env.now)
        return len(self._waiting) + len(self._gave_up)

    @property
    def in_system(self) -> int:
        return self.busy + self.queued

    def admits(self, limit: int, now: float) -> bool:
        """Whether fewer than ``limit`` customers are present at ``now``. Quick when a server is idle:
        then nobody waits (a waiting customer keeps every server booked past ``now``), nor is anyone
        still waiting to give up (the earliest free time only grows), so at most servers - 1 are present."""
        if self._free[0] <= now and self.servers <= limit:
            return True
        return self.in_system < limit

    def snapshot(self, now: float) -> tuple[int, int, int, int, float]:
        """(arrivals, completions, busy, queued, busy-server seconds) at ``now``, for the probe."""
        self._prune(now)
        busy = sum(1 for f in self._free if f > now)
        queued = len(self._waiting) + len(self._gave_up)
        return self.arrivals, self.arrivals - busy - queued, busy, queued, self.busy_total_at(now)

    def busy_total_at(self, now: float) -> float:
        """Busy-server seconds from time 0 to ``now`` (``now`` not before the last assignment)."""
        return self.work_total - sum(f - now for f in self._free if f > now)

    def queue_area_at(self, now: float) -> float:
        """Customer-seconds spent waiting from time 0 to ``now``."""
        self._prune(now)
        ahead = sum(s - max(a, now) for a, s in self._waiting)
        ahead += sum(leave - max(a, now) for a, leave in self._gave_up)
        return self.wait_total - ahead

    def close_window(self, now: float) -> None:
        """End the statistics window at ``now`` (the horizon): ``statistics`` reports it from then on."""
        self._window = self.summary(now)

    def statistics(self, now: float) -> dict[str, float]:
        """The window closed by ``close_window``, or the figures up to ``now`` if none was closed."""
        return self._window if self._window is not None else self.summary(now)

    def summary(self, now: float) -> dict[str, float]:
        """Means over [stats_from, now]: W_q, W, L_q, L, utilisation (per server)."""
        span = now - self.stats_from
        area_busy = self.busy_total_at(now) - self._area_busy0
        area_queue = self.queue_area_at(now) - self._area_queue0
        customers = self.arrivals - self._arrivals0
        wait = self.wait_total - self._wait0
        sojourn = wait + self.work_total - self._work0
        return {
            "servers": self.servers,
            "customers": customers,
            "mean_wait": wait / customers if customers else float("nan"),
            "mean_sojourn": sojourn / customers if customers else float("nan"),
            "mean_queue": area_queue / span if span > 0 else float("nan"),
            "mean_in_system": (area_queue + area_busy) / span if span > 0 else float("nan"),
            "utilisation": area_busy / (self.servers * span) if span > 0 else float("nan"),
        }
