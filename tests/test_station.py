"""The Kiefer-Wolfowitz station: its shortcuts agree with the plain definitions."""

from __future__ import annotations

import simpy
from hypothesis import given, settings
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
