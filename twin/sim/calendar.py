"""The local calendar a workload follows: the weekday factor and the local hour of a simulated time, in the
scenario's time zone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Generator

import numpy as np

from twin.scenario.schema import WEEKDAYS


def daily(clock, at: float, end: float) -> Generator[float, None, None]:
    """The simulated times of ``at`` seconds after local midnight, each day from the start of the run
    until ``end`` (a time of day a change of daylight saving time skips or repeats follows the zone's
    rules for the wall clock)."""
    zone = clock.zone
    t0 = clock.t0.astimezone(dt.UTC)  # instants: aware datetimes of one zone subtract as wall clocks
    date = t0.astimezone(zone).date()
    while True:
        local = dt.datetime.combine(date, dt.time(0), tzinfo=zone) + dt.timedelta(seconds=at)
        t = (local.astimezone(dt.UTC) - t0).total_seconds()
        if t >= end:
            return
        if t >= 0:
            yield t
        date += dt.timedelta(days=1)


class Calendar:
    def __init__(self, clock, weekday: dict[str, float]):
        self.zone = clock.zone
        self._start_utc = clock.t0.astimezone(dt.UTC)
        self.weekday = np.array([weekday[d] for d in WEEKDAYS])

    def local_slot(self, t: float) -> tuple[int, int]:
        """(weekday 0=Mon, hour) of simulated time ``t`` in the scenario's time zone."""
        when = (self._start_utc + dt.timedelta(seconds=t)).astimezone(self.zone)
        return when.weekday(), when.hour

    def day(self, t: float) -> int:
        """The local date of simulated time ``t`` as a day number (``date.toordinal``)."""
        return (self._start_utc + dt.timedelta(seconds=t)).astimezone(self.zone).toordinal()

    def factor(self, t: float) -> tuple[float, int]:
        """(the weekday factor, the local hour) at simulated time ``t``."""
        day, hour = self.local_slot(t)
        return float(self.weekday[day]), hour
