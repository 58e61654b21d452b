"""Alarms (sim/alarms.py): wake-ups kept out of SimPy's queue ring at their times, in order."""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.sim.alarms import Alarms


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 50)), min_size=1, max_size=30))
def test_each_alarm_rings_at_its_time_and_in_the_order_set(plan):
    """``plan``: (when an alarm is set, how far ahead). Alarms set from processes at various times, some
    earlier than those already pending; each starts its process exactly at its time, ties in the order
    they were set, and SimPy's queue holds at most a few of the object's wake-ups."""
    env = simpy.Environment()
    alarms = Alarms(env)
    rang: list[tuple[float, int]] = []
    queue_depth = []

    def ring(i):
        rang.append((env.now, i))
        return
        yield

    def setter(i, at, ahead):
        yield env.timeout(at)
        alarms.at(env.now + ahead, lambda: ring(i))
        queue_depth.append(len(env._queue))

    for i, (at, ahead) in enumerate(plan):
        env.process(setter(i, at, ahead))
    env.run()
    expected = sorted(((at + ahead, j) for j, (at, ahead) in enumerate(plan)), key=lambda x: x[0])
    assert [t for t, _ in rang] == pytest.approx([t for t, _ in expected])
    assert sorted(i for _, i in rang) == list(range(len(plan)))
    assert len(alarms) == 0
    assert max(queue_depth) <= len(plan) + 2  # the setters' own timeouts, and the alarms' wake-ups


def nothing():
    return
    yield


def test_an_alarm_cannot_ring_in_the_past():
    env = simpy.Environment()
    env.run(until=10)
    with pytest.raises(ValueError, match="past"):
        Alarms(env).at(5, nothing)


def test_an_alarm_later_than_the_earliest_adds_no_wake_up_to_the_queue():
    env = simpy.Environment()
    alarms = Alarms(env)
    for k in range(1000):
        alarms.at(1000.0 - k, nothing)  # each earlier than the last: a wake-up more each
    pending = len(env._queue)
    assert pending == 1000
    for k in range(1000):
        alarms.at(2000.0 + k, nothing)  # later than the earliest: no wake-up more
    assert len(env._queue) == pending
    env.run()
    assert len(alarms) == 0
