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

Background work (``Batch``, a backup reading the disks for hours): ``streams`` closed loops, each with one
request of ``request`` seconds outstanding, issued again the moment the previous one ends, queued FIFO with
the customers. A customer then waits behind at most the requests ahead of it, as on a real disk that
interleaves a backup's I/Os with the interactive ones, instead of behind hours of work. The requests are
booked lazily: a call at time t first books every request issued up to t (in one step for a stream
while nothing else can make it wait), so a night of backup costs no SimPy events. With one server, one
stream and Poisson customers it is the M/G/1 queue with multiple vacations and gated service
(docs/validation.md). The background's work counts in the utilisation, not in the customers, their waits
and sojourns.

What a Station cannot do: only FIFO, no priorities and no preemption (a two-hour batch job assigned as one
customer blocks everyone behind it: give it to ``start_batch``, which cuts it into requests); the times
given to ``assign`` must not decrease (``assign_after`` books a later step of an exchange now); a
customer's times are fixed when it arrives, so a node that fails must ``cut`` its station (the customers
present leave at that moment without service) and its clients must check that the node they waited for
is still the one that answers (``Component.boot``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import simpy


class Station:
    __slots__ = (
        "_area_busy0",
        "_area_queue0",
        "_arrivals0",
        "_background0",
        "_batch",
        "_free",
        "_gap_sq0",
        "_gave_up",
        "_last",
        "_last0",
        "_wait0",
        "_waiting",
        "_window",
        "_work0",
        "_work_sq0",
        "arrivals",
        "background_total",
        "env",
        "gap_sq_total",
        "name",
        "servers",
        "slowdown",
        "stats_from",
        "wait_total",
        "work_sq_total",
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
        self.background_total = 0.0  # of work_total: the background's (``Batch``)
        # For the oracle's variability (analysis/oracle.py): the squared gaps between arrivals and the
        # squared service times of the customers, and when the last customer arrived.
        self.gap_sq_total = 0.0
        self.work_sq_total = 0.0
        self._last = 0.0
        self._batch: Batch | None = None
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
        self._background0 = self.background_total
        self._gap_sq0 = self.gap_sq_total
        self._work_sq0 = self.work_sq_total
        self._last0 = self._last

    # -- customers -----------------------------------------------------------------------------------------

    def assign(self, service_time: float, now: float | None = None) -> float:
        """A customer arriving now (or at ``now``, which must not be earlier than any arrival before it)
        with ``service_time`` of work: returns when its service ends."""
        if now is None:
            now = self.env.now
        batch = self._batch
        if batch is not None and batch.next <= now:
            batch.advance(now)
        service_time *= self.slowdown
        free = self._free
        start = free[0]
        if start < now:
            start = now
        end = start + service_time
        heapq.heapreplace(free, end)
        self.arrivals += 1
        self.work_total += service_time
        gap = now - self._last
        self._last = now
        self.gap_sq_total += gap * gap
        self.work_sq_total += service_time * service_time
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

    def assign_sequence(self, service_time: float, ops: int) -> float:
        """A customer arriving now whose ``ops`` operations (``service_time`` in all) come one after the
        other, each when the one before it is done (a command that reads n message files): returns when
        its last ends. It is booked as one customer; while a background batch runs, each operation after
        the first waits behind the batch's requests as the first did, and that is added to its end (the
        server serves the batch meanwhile). Without a batch the operations follow each other at once, as
        on a lightly loaded array (docs/validation.md compares both with booking each operation)."""
        now = self.env.now
        end = self.assign(service_time, now)
        batch = self._batch
        if ops > 1 and batch is not None and batch.left > 0:
            return end + (ops - 1) * (end - service_time * self.slowdown - now)
        return end

    def assign_within(self, service_time: float, patience: float) -> float | None:
        """``assign``, but a customer who would wait longer than ``patience`` does not stay: returns None
        (it leaves after ``patience`` without service)."""
        now = self.env.now
        self.catch_up(now)
        if self._free[0] - now <= patience:
            return self.assign(service_time)
        self.arrivals += 1
        self.wait_total += patience  # a customer who gives up waits ``patience`` and is served for 0 s
        gap = now - self._last
        self._last = now
        self.gap_sq_total += gap * gap
        self._gave_up.append((now, now + patience))
        return None

    def serve(self, service_time: float):
        """Wait for a server, hold it for ``service_time``: a generator to ``yield from``."""
        env = self.env
        yield self.assign(service_time) - env.now

    def cut(self, now: float) -> None:
        """The node failed at ``now``: every customer present leaves now, without the rest of its service
        or its wait; the servers are free from now (a background batch stops). The statistics keep what
        happened until now."""
        self.catch_up(now)
        if self._batch is not None:
            self.background_total -= self._batch.ahead(now)
            self._batch.stop(now, cut=True)
        free = self._free
        self.work_total -= sum(f - now for f in free if f > now)
        self._prune(now)
        self.wait_total -= sum(s - max(a, now) for a, s in self._waiting)
        self.wait_total -= sum(leave - max(a, now) for a, leave in self._gave_up)
        self._waiting.clear()
        self._gave_up = []
        self._free = [min(f, now) for f in free]
        heapq.heapify(self._free)

    def set_slowdown(self, factor: float, now: float) -> None:
        """Work from ``now`` on takes ``factor`` times its service time (a degraded node)."""
        self.catch_up(now)
        self.slowdown = factor

    # -- background work -----------------------------------------------------------------------------------

    def start_batch(self, requests: int, streams: int, request: float, now: float) -> Batch:
        """Background work of ``requests`` requests of ``request`` seconds each, ``streams`` of them
        outstanding at once, from ``now`` (``Batch``). One batch at a time."""
        self.catch_up(now)
        if self._batch is not None and not self._batch.finished(now):
            raise RuntimeError(f"station {self.name!r} already runs a batch")
        self._batch = Batch(self, requests, streams, request, now)
        self._batch.advance(now)
        return self._batch

    def stop_batch(self, now: float) -> None:
        """The batch issues no more requests after ``now`` (those under way end as booked)."""
        self.catch_up(now)
        if self._batch is not None:
            self._batch.stop(now)

    def catch_up(self, now: float) -> None:
        """Book the background's requests issued up to ``now`` (before the station is read or used)."""
        batch = self._batch
        if batch is not None and batch.next <= now:
            batch.advance(now)

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
        self.catch_up(now)
        return sum(1 for f in self._free if f > now)

    @property
    def queued(self) -> int:
        self.catch_up(self.env.now)
        self._prune(self.env.now)
        return len(self._waiting) + len(self._gave_up)

    @property
    def in_system(self) -> int:
        return self.busy + self.queued

    def admits(self, limit: int, now: float) -> bool:
        """Whether fewer than ``limit`` customers are present at ``now``. Quick when a server is idle:
        then nobody waits (a waiting customer keeps every server booked past ``now``), nor is anyone
        still waiting to give up (the earliest free time only grows), so at most servers - 1 are present."""
        self.catch_up(now)
        if self._free[0] <= now and self.servers <= limit:
            return True
        return self.in_system < limit

    def snapshot(self, now: float) -> tuple[int, int, int, int, float]:
        """(arrivals, completions, busy, queued, busy-server seconds) at ``now``, for the probe."""
        self.catch_up(now)
        self._prune(now)
        busy = sum(1 for f in self._free if f > now)
        queued = len(self._waiting) + len(self._gave_up)
        return self.arrivals, self.arrivals - busy - queued, busy, queued, self.busy_total_at(now)

    def busy_total_at(self, now: float) -> float:
        """Busy-server seconds from time 0 to ``now`` (``now`` not before the last assignment), the
        background's included."""
        self.catch_up(now)
        return self.work_total - sum(f - now for f in self._free if f > now)

    def queue_area_at(self, now: float) -> float:
        """Customer-seconds spent waiting from time 0 to ``now``."""
        self.catch_up(now)
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
        background = self.background_total - self._background0
        if self._batch is not None:  # the part still ahead of ``now`` is not done yet
            background -= self._batch.ahead(now)
        sojourn = wait + self.work_total - self._work0 - (self.background_total - self._background0)
        return {
            "servers": self.servers,
            "customers": customers,
            "mean_wait": wait / customers if customers else float("nan"),
            "mean_sojourn": sojourn / customers if customers else float("nan"),
            "mean_queue": area_queue / span if span > 0 else float("nan"),
            "mean_in_system": (area_queue + area_busy) / span if span > 0 else float("nan"),
            "utilisation": area_busy / (self.servers * span) if span > 0 else float("nan"),
            "background_utilisation": background / (self.servers * span) if span > 0 else float("nan"),
            **self._variability(customers, sojourn - wait),
        }

    def _variability(self, customers: int, service: float) -> dict[str, float]:
        """The squared coefficients of variation of the gaps between arrivals (1 for a Poisson stream) and
        of the service times (1 for exponential ones) since the statistics began."""
        if customers < 2:
            return {"arrival_scv": float("nan"), "service_scv": float("nan")}
        gaps = self._last - self._last0
        gap_sq, work_sq = self.gap_sq_total - self._gap_sq0, self.work_sq_total - self._work_sq0
        return {
            "arrival_scv": _scv(gap_sq, customers, gaps / customers),
            "service_scv": _scv(work_sq, customers, service / customers),
        }


def _scv(sum_sq: float, n: int, mean: float) -> float:
    """Squared coefficient of variation from a sum of squares, a count and a mean: E[x²]/E[x]² - 1 (nan
    where the mean's square is 0, also when it underflows)."""
    square = mean * mean
    return max(0.0, sum_sq / n / square - 1) if square > 0 else float("nan")


class Batch:
    """Background work on a station: ``requests`` requests of ``request`` seconds (times the station's
    slowdown), ``streams`` of them outstanding at once; a stream issues its next request the moment its
    previous one ends. Booked lazily by ``advance``: ``done`` counts the requests booked, ``end`` is when
    the last booked one ends; the batch is finished when every request is booked and has ended."""

    __slots__ = ("done", "end", "issue", "left", "next", "request", "requests", "station", "stopped")

    def __init__(self, station: Station, requests: int, streams: int, request: float, now: float):
        if streams < 1 or request <= 0:
            raise ValueError("a batch needs at least one stream and requests of positive length")
        self.station = station
        self.requests = requests
        self.left = requests  # requests not booked yet
        self.done = 0  # requests booked (the last ones may still be under way)
        self.request = request
        self.issue = [now] * min(streams, max(requests, 1))  # when each stream issues its next request
        self.next = now if requests else math.inf
        self.end = now
        self.stopped = False
        if not requests:
            self.issue = []

    def finished(self, now: float) -> bool:
        self.station.catch_up(now)
        return self.left == 0 and self.end <= now

    def ahead(self, now: float) -> float:
        """Seconds of its booked work still ahead of ``now`` (booked up to ``now`` first)."""
        self.station.catch_up(now)
        c = self.request * self.station.slowdown
        return sum(min(e - now, c) for e in self.issue if e > now)

    def stop(self, now: float, cut: bool = False) -> None:
        """No more requests after ``now``; with ``cut`` (the station failed) the ones under way end now."""
        self.left = 0
        if cut:
            self.issue = [e if e <= now else now for e in self.issue]
            self.end = min(self.end, now)
        self.next = math.inf
        self.stopped = True

    def advance(self, t: float) -> None:
        """Book every request issued up to ``t``, in the order of their issue times. A stream is moved
        on by many requests in one step while the servers not held by the batch's streams cannot all be
        taken by the customers booked ahead (then each of its requests starts when it is issued); else
        one request at a time, as ``assign`` would book it, until those customers' bookings end."""
        st = self.station
        free, issue, servers, k = st._free, self.issue, st.servers, len(self.issue)
        c = self.request * st.slowdown
        booked = 0
        while self.left > 0:
            tau = min(issue)
            if tau > t:
                break
            j = issue.index(tau)
            # Booked work beyond tau that is not the other streams' own requests: the customers'.
            ahead = [f for f in free if f > tau]
            for i, e in enumerate(issue):
                if i != j and e in ahead:
                    ahead.remove(e)
            if len(ahead) + k <= servers:
                # Nothing can make a stream wait until t (the customers' bookings only end): every
                # stream moves on to its last request issued by t, in the order of their issue times;
                # each finds a server free (free[0] <= its issue time).
                order = sorted(range(k), key=issue.__getitem__)
                steps = [int((t - issue[i]) // c) + 1 if issue[i] <= t else 0 for i in order]
                total = sum(steps)
                if total <= self.left:
                    for i, n in zip(order, steps, strict=True):
                        if n:
                            end = issue[i] + n * c
                            heapq.heapreplace(free, end)
                            issue[i] = end
                    self.left -= total
                    booked += total
                    continue
            # One at a time (each as ``assign`` books it) while the customers ahead hold servers, or
            # near the end, so that the streams share the last requests in their order.
            until = min(max(ahead), t) if ahead else tau
            while self.left > 0:
                tau = min(issue)
                if tau > until:
                    break
                j = issue.index(tau)
                start = free[0]
                end = (start if start > tau else tau) + c
                heapq.heapreplace(free, end)
                issue[j] = end
                self.left -= 1
                booked += 1
        work = booked * c
        st.work_total += work
        st.background_total += work
        self.done += booked
        last = max(issue) if issue else self.end
        if last > self.end:
            self.end = last
        self.next = math.inf if self.left == 0 else min(issue)
