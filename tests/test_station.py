"""The Kiefer-Wolfowitz station: its shortcuts agree with the plain definitions."""

from __future__ import annotations

import math

import simpy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from twin.components.station import Station

customers = st.lists(
    st.tuples(
        st.floats(0.0, 2.0),  # gap to the previous arrival
        st.floats(0.01, 3.0),  # service time
        st.one_of(st.none(), st.floats(0.0, 2.0)),  # patience (None: waits as long as it takes)
    ),
    min_size=1,
    max_size=40,
)


def _feed(station: Station, env: simpy.Environment, schedule) -> list[tuple[float, float, float | None]]:
    """Arrivals at increasing times; returns (arrival, end, leave) of each customer."""
    out = []
    t = env.now
    for gap, service, patience in schedule:
        t += gap
        _advance(env, t)
        if patience is None:
            out.append((t, station.assign(service), None))
        else:
            end = station.assign_within(service, patience)
            out.append((t, end, None if end is not None else t + patience))
    return out


def _advance(env: simpy.Environment, t: float) -> None:
    if t > env.now:
        env.run(until=t)


@settings(max_examples=60, deadline=None)
@given(customers, st.integers(1, 4), st.integers(1, 6), st.floats(0.0, 10.0))
def test_admits_agrees_with_counting_the_customers_present(schedule, servers, limit, later):
    env = simpy.Environment()
    station = Station(env, "s", servers)
    fed = _feed(station, env, schedule)
    now = fed[-1][0] + later
    _advance(env, now)
    present = sum(1 for _, end, leave in fed if (end if end is not None else leave) > now)
    assert station.in_system == present
    assert station.admits(limit, now) == (present < limit)


@settings(max_examples=40, deadline=None)
@given(customers, st.integers(1, 3))
# CI found this: gaps so small that the mean gap's square underflows to 0 (the variability is then nan)
@example([(0.0, 1.0, None), (0.0, 1.0, None), (1.3106279012753553e-165, 1.0, None)], 1)
def test_summary_means_are_those_of_the_customers_since_the_reset(schedule, servers):
    env = simpy.Environment()
    station = Station(env, "s", servers)
    half = len(schedule) // 2
    _feed(station, env, schedule[:half])
    station.reset_stats(env.now)
    rest = _feed(station, env, schedule[half:])
    # Per customer: the wait (patience for one who gave up) and the sojourn (wait + service).
    waits, sojourns = [], []
    for (t, end, leave), (_, service, _) in zip(rest, schedule[half:], strict=True):
        if end is None:
            waits.append(leave - t)
            sojourns.append(leave - t)
        else:
            waits.append(end - service - t)
            sojourns.append(end - t)
    s = station.summary(env.now + 100.0)
    assert s["customers"] == len(rest)
    assert abs(s["mean_wait"] - sum(waits) / len(waits)) < 1e-9
    assert abs(s["mean_sojourn"] - sum(sojourns) / len(sojourns)) < 1e-9
    # The oracle's variability (analysis/oracle.py): the gaps since the last arrival before the reset,
    # and the service times (0 for a customer who gave up), by E[x²]/E[x]² - 1. The station keeps running
    # sums and subtracts those at the reset, so its error is a rounding of the whole run's sum of squares.
    before = _arrivals(schedule[:half])
    times = [t for t, _, _ in rest]
    previous = [before[-1] if before else 0.0, *times[:-1]]
    gaps = [b - a for a, b in zip(previous, times, strict=True)]
    served = [
        service if end is not None else 0.0
        for (_, end, _), (_, service, _) in zip(rest, schedule[half:], strict=True)
    ]
    totals = {"arrival_scv": station.gap_sq_total, "service_scv": station.work_sq_total}
    for key, xs in (("arrival_scv", gaps), ("service_scv", served)):
        mean = sum(xs) / len(xs)
        if len(xs) < 2 or mean * mean == 0:
            assert math.isnan(s[key])
            continue
        expected = max(0.0, sum(x * x for x in xs) / len(xs) / mean**2 - 1)
        rounding = 1e-12 * totals[key] / len(xs) / mean**2
        assert abs(s[key] - expected) <= 1e-6 * max(1.0, expected) + rounding, (key, xs)


def _arrivals(schedule) -> list[float]:
    """The arrival times a schedule gives from time 0."""
    out, t = [], 0.0
    for gap, _, _ in schedule:
        t += gap
        out.append(t)
    return out


@settings(max_examples=60, deadline=None)
@given(customers, st.integers(1, 4), st.floats(0.0, 1.0), st.floats(0.01, 3.0))
def test_a_later_step_is_booked_now_and_ends_after_its_ready_time(schedule, servers, lag, service):
    """``assign_after``: the customer is booked at now (the station's arrivals stay in time order), it ends
    no earlier than it would have as a plain arrival, nor before ``ready`` plus its service."""
    env = simpy.Environment()
    station = Station(env, "s", servers)
    _feed(station, env, schedule)
    plain = max(env.now, min(station._free)) + service  # a plain arrival now: Kiefer-Wolfowitz
    end = station.assign_after(service, env.now + lag)
    assert end >= env.now + lag + service - 1e-9
    assert end == max(plain, env.now + lag + service)


def test_every_station_sees_its_customers_in_the_order_of_their_arrival(monkeypatch):
    """The Kiefer-Wolfowitz recursion needs arrivals in time order (a customer booked ahead of time would
    hold a server through the gap and skew the statistics): watch every ``assign`` of an hour at the
    Monday peak with the users' submission (KDC and LDAP after the frontend's CPU) and Mailman's
    expansions (the list server's CPU after the directory), and check no station is handed an earlier
    time than before."""
    import twin
    from tests.helpers import BASELINE

    last: dict[int, float] = {}
    calls = {"n": 0}
    plain = Station.assign

    def watched(self, service_time, now=None):
        t = self.env.now if now is None else now
        assert t >= last.get(id(self), 0.0), f"{self.name}: a customer at {t} after one at {last[id(self)]}"
        last[id(self)] = t
        calls["n"] += 1
        return plain(self, service_time, now)

    monkeypatch.setattr(Station, "assign", watched)
    scenario = twin.load_scenario(
        BASELINE,
        [
            "clock.start=2010-05-03 10:00",
            "clock.horizon=20m",
            "clock.drain=0s",
            "workload.submission.enabled=true",
            "workload.lists.posts=3000/day",
            "outputs.report=false",
        ],
    )
    res = twin.simulate(scenario, seed=1)
    assert res.kpis["recipients"]["offered"] > 10_000
    assert calls["n"] > 10_000
