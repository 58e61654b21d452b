"""Station: ``servers`` identical servers in front of one FIFO queue, with the statistics queueing theory
speaks of (waiting time, sojourn time, time-average number waiting and in service).

This is the machinery every component that does work is built on: a generic queueing station, the CPU of
a frontend, a scanner or the store. It keeps its own counters instead of asking the SimPy resource, so
that time-weighted areas (for Little's law and utilisation) are exact and cheap: a few float operations
per state change, no per-event records.
"""

from __future__ import annotations

from collections import deque

import simpy


class Station:
    __slots__ = (
        "_last",
        "_waiting",
        "area_busy",
        "area_queue",
        "arrivals",
        "busy",
        "busy_total",
        "completions",
        "env",
        "name",
        "queued",
        "servers",
        "sojourn_n",
        "sojourn_sum",
        "stats_from",
        "wait_n",
        "wait_sum",
    )

    def __init__(self, env: simpy.Environment, name: str, servers: int):
        self.env = env
        self.name = name
        self.servers = servers
        self._waiting: deque[simpy.Event] = deque()
        self.busy = 0  # customers in service now
        self.queued = 0  # customers waiting now
        self.arrivals = 0  # cumulative, for probes
        self.completions = 0
        self.busy_total = 0.0  # busy-server seconds since time 0, never reset (for the probe)
        self.reset_stats(0.0)

    def reset_stats(self, now: float) -> None:
        """Start the statistics afresh (end of warm-up); the customers present stay."""
        self._last = now
        self.stats_from = now
        self.area_busy = 0.0
        self.area_queue = 0.0
        self.wait_sum = 0.0
        self.wait_n = 0
        self.sojourn_sum = 0.0
        self.sojourn_n = 0

    def advance(self, now: float) -> None:
        dt = now - self._last
        if dt:
            self.area_busy += self.busy * dt
            self.busy_total += self.busy * dt
            self.area_queue += self.queued * dt
            self._last = now

    def serve(self, service_time: float):
        """Wait for a server, hold it for ``service_time``: a generator to ``yield from``.

        A free server is taken at once; otherwise the customer waits on an event in FIFO order, and the
        customer finishing service hands its server straight to the first one waiting.
        """
        env = self.env
        t0 = env.now
        self.advance(t0)
        self.arrivals += 1
        if self.busy < self.servers:
            self.busy += 1
            t1 = t0
        else:
            self.queued += 1
            turn = env.event()
            self._waiting.append(turn)
            yield turn
            t1 = env.now  # the server handed over is already counted as busy
        yield env.timeout(service_time)
        self._release(t0, t1)

    def _release(self, t0: float, t1: float) -> None:
        """End of a service that was asked for at ``t0`` and began at ``t1``: hand the server on."""
        t2 = self.env.now
        self.advance(t2)
        if self._waiting:
            self.queued -= 1
            self._waiting.popleft().succeed()
        else:
            self.busy -= 1
        self.completions += 1
        self._record(t0, t1, t2)

    def _record(self, t0: float, t1: float, t2: float) -> None:
        if t0 >= self.stats_from:
            self.wait_sum += t1 - t0
            self.wait_n += 1
            self.sojourn_sum += t2 - t0
            self.sojourn_n += 1

    def serve_within(self, service_time: float, patience: float):
        """``serve``, but a customer who would wait longer than ``patience`` for a server leaves: a
        generator returning True if served, False if it gave up (it then used no server time)."""
        if self.busy < self.servers or patience == float("inf"):
            yield from self.serve(service_time)
            return True
        env = self.env
        t0 = env.now
        self.advance(t0)
        self.arrivals += 1
        self.queued += 1
        turn = env.event()
        self._waiting.append(turn)
        yield turn | env.timeout(patience)
        if not turn.triggered:
            self.advance(env.now)
            self._waiting.remove(turn)
            self.queued -= 1
            self.completions += 1  # it left the station (without service)
            self._record(t0, env.now, env.now)
            return False
        t1 = env.now
        yield env.timeout(service_time)
        self._release(t0, t1)
        return True

    @property
    def in_system(self) -> int:
        return self.busy + self.queued

    def summary(self, now: float) -> dict[str, float]:
        """Means over [stats_from, now]: W_q, W, L_q, L, utilisation (per server)."""
        self.advance(now)
        span = now - self.stats_from
        return {
            "servers": self.servers,
            "customers": self.sojourn_n,
            "mean_wait": self.wait_sum / self.wait_n if self.wait_n else float("nan"),
            "mean_sojourn": self.sojourn_sum / self.sojourn_n if self.sojourn_n else float("nan"),
            "mean_queue": self.area_queue / span if span > 0 else float("nan"),
            "mean_in_system": (self.area_queue + self.area_busy) / span if span > 0 else float("nan"),
            "utilisation": self.area_busy / (self.servers * span) if span > 0 else float("nan"),
        }
