"""A machine of the platform (physical or a virtual server on ESX) whose CPU does the work.

Its CPU is a Station with one server per core (vCPU for a VM); a message's demand, stated in CPU-seconds
on the scenario's reference core, takes demand / speed seconds on it. A class with no ``demand`` in the
scenario does no queued work: messages pass through it without delay. An optional ``disk`` is a second
station (the spool disk of a frontend, the store's RAID array).

The classes with a protocol of their own (frontends, scanners, the store, the balancer) build on this;
the others (LDAP, the SAN, the blocklist service, the central scan server, …) are plain Servers whose
outage acts through their dependents (``topology.DEPENDENCIES``).
"""

from __future__ import annotations

from twin.components.base import Component
from twin.components.station import Station
from twin.scenario.distributions import batched, total


class Server(Component):
    OUTAGE = "does no work while it is down; its dependents act as topology.DEPENDENCIES says"

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        demand = getattr(spec, "demand", None)
        speed = attrs["speed"] or 1.0
        # CPU-seconds per KB of the message on the reference core -> seconds on this machine.
        self.per_kb = getattr(spec, "demand_per_kb", 0.0) / speed
        if demand is not None:
            servers = spec.servers or attrs["cores"]
            self.station = Station(self.env, name, servers)
            draw = demand.draw_fn(ctx.streams.generator(f"{name}.demand"))
            self.service_time = batched((lambda n: draw(n) / speed) if speed != 1.0 else draw)
        disk = getattr(spec, "disk", None)
        self.disk: Station | None = None
        if disk is not None:
            self.disk = Station(self.env, f"{name}.disk", disk.servers)
            self._disk_op = ctx.streams.sampler(f"{name}.disk", disk.demand)
            self._disk_per_kb = disk.per_kb

    def stations(self) -> list[Station]:
        return [s for s in (self.station, self.disk) if s is not None]

    def results(self) -> dict[str, dict]:
        """The CPU station's figures and, with a disk array, the disk's (``disk_*``; its utilisation
        includes background work such as the nightly backup, ``disk_background_utilisation``)."""
        out = super().results()
        if self.disk is not None and "components" in out:
            d = self.disk.statistics(self.ctx.end)
            out["components"].update(
                disk_servers=d["servers"],
                disk_customers=d["customers"],
                disk_mean_wait=d["mean_wait"],
                disk_utilisation=d["utilisation"],
                disk_background_utilisation=d["background_utilisation"],
            )
        return out

    def work(self, size: int) -> float:
        """CPU seconds this machine spends on a message of ``size`` bytes."""
        return self.service_time() + size * (1 / 1024) * self.per_kb

    def disk_time(self, size: int) -> float:
        return self._disk_op() + size * (1 / 1024) * self._disk_per_kb

    def disk_io(self, ops: int, kb: float) -> float:
        """Seconds of ``ops`` disk operations and ``kb`` KB of transfer."""
        return total(self._disk_op, ops) + kb * self._disk_per_kb


class QueueingStation(Component):
    """A generic station from ``platform.stations``: servers and a service-time distribution."""

    OUTAGE = "refuses new customers (their senders retry or give up); the customers present are cut"

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.station = Station(self.env, name, spec.servers)
        self.service_time = ctx.streams.sampler(f"{name}.service", spec.service)


def filling(capacity: float | None, start: float, now: float, span: float) -> dict:
    """The ``storage`` figures of an array that holds ``start`` bytes at time 0 and ``now`` bytes after
    ``span`` seconds: growth a day at the run's rate, and the days until it is full at that rate (None
    when it does not grow, or has no capacity)."""
    growth = (now - start) / span * 86400 if span > 0 else 0.0
    out = {
        "capacity_bytes": capacity,
        "used_start_bytes": start,
        "used_bytes": now,
        "used_share": now / capacity if capacity else None,
        "growth_bytes_per_day": growth,
        "days_left": None,
    }
    if capacity and growth > 0:
        out["days_left"] = max(0.0, capacity - now) / growth
    return out
