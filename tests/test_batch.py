"""Background work on a station (``Station.start_batch``): booked lazily, it agrees with booking each
request as it is issued; it takes what the customers leave and makes them wait as a real disk would."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.components.station import Station


def _customers(rng, n, rate, mean):
    return np.cumsum(rng.exponential(1 / rate, n)), rng.exponential(mean, n)


def _lazy(servers, streams, requests, c, arrivals, services, start=0.0):
    env = simpy.Environment()
    st = Station(env, "disk", servers)
    ends, batch = [], None
    for t, s in zip(arrivals, services, strict=True):
        if batch is None and t >= start:
            _run(env, start)
            batch = st.start_batch(requests, streams, c, start)
        _run(env, t)
        ends.append(st.assign(s))
    while not batch.finished(env.now):
        _run(env, env.now + 1.0)
    return np.array(ends), batch, st


def _run(env, t):
    if t > env.now:
        env.run(until=t)


def _eager(servers, streams, requests, c, arrivals, services, start=0.0):
    """The same, with each request booked by a SimPy process at the moment its stream issues it."""
    env = simpy.Environment()
    st = Station(env, "disk", servers)
    left = [requests]
    last = [start]

    def stream():
        yield env.timeout(start)
        while left[0] > 0:
            left[0] -= 1
            end = st.assign(c)
            last[0] = max(last[0], end)
            yield env.timeout(end - env.now)

    for _ in range(streams):
        env.process(stream())
    ends = []

    def customers():
        for t, s in zip(arrivals, services, strict=True):
            yield env.timeout(t - env.now)
            ends.append(st.assign(s))

    env.process(customers())
    env.run()
    return np.array(ends), last[0]


@pytest.mark.parametrize(
    ("servers", "streams", "rate", "seed"),
    [(1, 1, 40.0, 1), (4, 2, 300.0, 2), (4, 4, 200.0, 3), (8, 3, 900.0, 4), (2, 1, 150.0, 5)],
)
def test_lazy_booking_gives_every_customer_the_times_of_booking_each_request_as_issued(
    servers, streams, rate, seed
):
    rng = np.random.default_rng(seed)
    arrivals, services = _customers(rng, 4000, rate, 0.008)
    c = 0.008
    requests = int(arrivals[-1] * 0.6 / c) * streams // 2  # ends before the customers do
    lazy, batch, _ = _lazy(servers, streams, requests, c, arrivals, services, start=arrivals[50])
    eager, last = _eager(servers, streams, requests, c, arrivals, services, start=arrivals[50])
    assert np.max(np.abs(lazy - eager)) < 1e-9
    assert batch.done == requests
    assert batch.end == pytest.approx(last, abs=1e-9)
    assert batch.end > arrivals[50] + requests * c / streams  # the customers slowed it down


def test_the_background_counts_in_the_utilisation_not_in_the_customers():
    env = simpy.Environment()
    st = Station(env, "disk", 2)
    st.start_batch(1000, 1, 0.01, 0.0)  # 10 s of work on one of two servers
    env.run(until=5.0)
    st.assign(0.5)
    env.run(until=20.0)
    s = st.summary(20.0)
    assert s["customers"] == 1
    assert s["mean_sojourn"] == pytest.approx(0.5)  # a free server: no wait
    assert s["utilisation"] == pytest.approx((10 + 0.5) / 40)
    assert s["background_utilisation"] == pytest.approx(10 / 40)


def test_a_failure_cuts_the_batch_and_its_work_in_progress():
    env = simpy.Environment()
    st = Station(env, "disk", 1)
    batch = st.start_batch(1000, 1, 0.01, 0.0)
    env.run(until=2.005)
    st.cut(2.005)
    assert batch.stopped and batch.finished(2.005)
    assert batch.done == 201  # 200 ended, the 201st was under way
    assert st.busy_total_at(2.005) == pytest.approx(2.005)
    assert st.background_total == pytest.approx(2.005)
    env.run(until=3.0)
    assert st.busy == 0


def test_a_degraded_station_serves_the_batch_slower_from_then_on():
    env = simpy.Environment()
    st = Station(env, "disk", 1)
    batch = st.start_batch(200, 1, 0.01, 0.0)
    env.run(until=1.0)
    st.set_slowdown(2.0, 1.0)
    env.run(until=10.0)
    assert batch.finished(10.0)
    # the request issued at 1.0 was booked before the change: 0.01 s; the 99 after it take 0.02 s
    assert batch.end == pytest.approx(1.0 + 0.01 + 99 * 0.02)


@pytest.mark.parametrize("ops", [3, 10])
def test_a_customer_of_many_operations_waits_behind_the_batch_for_each_as_if_booked_one_by_one(ops):
    # 4 disks, the batch keeping 4 requests of 8 ms outstanding (the backup), light traffic of customers
    # reading ``ops`` files (each an exponential 8 ms). Booked one operation at a time (each when the one
    # before ends), a customer waits behind the batch before every operation; ``assign_sequence`` books
    # it once and adds the first operation's wait for each of the others. Measured: 30.7 against 30.0 ms
    # (3 operations), 110.4 against 108.3 ms (10), 2 % apart; booked as one customer without those waits
    # it would be ~28 and ~84 ms (9 and 24 % short). 40,000 customers: the standard error of either mean
    # is about 0.3 %, so a bound of 5 % leaves room for the seed and still catches a wrong wait.
    rng = np.random.default_rng(7)
    arrivals, _ = _customers(rng, 40000, 5.0, 0.008)
    work = rng.exponential(0.008, (len(arrivals), ops))

    env = simpy.Environment()
    st = Station(env, "disk", 4)
    st.start_batch(10**9, 4, 0.008, 0.0)
    once = []
    for t, w in zip(arrivals, work, strict=True):
        _run(env, t)
        once.append(st.assign_sequence(float(w.sum()), ops) - t)

    env = simpy.Environment()
    st = Station(env, "disk", 4)
    st.start_batch(10**9, 4, 0.008, 0.0)
    each = []

    def customer(t, w):
        yield env.timeout(t)
        for op in w:
            end = st.assign(float(op))
            yield env.timeout(end - env.now)
        each.append(env.now - t)

    for t, w in zip(arrivals, work, strict=True):
        env.process(customer(t, w))
    env.run()
    alone = float(work.sum(axis=1).mean())
    print(f"{ops} files: alone {alone:.4f} s, one by one {np.mean(each):.4f} s, once {np.mean(once):.4f} s")
    assert np.mean(each) > 1.25 * alone  # the batch costs each operation a wait
    assert np.mean(once) == pytest.approx(np.mean(each), rel=0.05)
    # without a batch it is the plain booking
    env = simpy.Environment()
    st = Station(env, "disk", 4)
    assert st.assign_sequence(0.08, ops) == pytest.approx(0.08)


@pytest.mark.parametrize(("servers", "streams"), [(4, 4), (4, 2), (2, 3), (1, 1)])
def test_customers_of_several_operations_get_the_times_of_a_batch_booked_as_issued(servers, streams):
    # Customers reading 1 to 10 files one after the other, each file booked when the one before ends,
    # so that some keep a server busy while the batch's streams queue: the lazy batch gives every
    # customer the times a SimPy process per stream gives.
    rng = np.random.default_rng(servers * 10 + streams)
    n = 1500
    arrivals = np.cumsum(rng.exponential(1 / 4.0, n))
    work = [rng.exponential(0.008, int(k)) for k in rng.integers(1, 11, n)]

    def run(lazy: bool) -> np.ndarray:
        env = simpy.Environment()
        st = Station(env, "disk", servers)
        if lazy:
            st.start_batch(10**9, streams, 0.008, 0.0)
        else:

            def stream():
                while True:
                    end = st.assign(0.008)
                    yield env.timeout(end - env.now)

            for _ in range(streams):
                env.process(stream())
        done = np.zeros(n)

        def customer(i):
            yield env.timeout(arrivals[i])
            for op in work[i]:
                end = st.assign(float(op))
                yield env.timeout(end - env.now)
            done[i] = env.now

        for i in range(n):
            env.process(customer(i))
        env.run(until=arrivals[-1] + 10.0)
        return done

    lazy, eager = run(True), run(False)
    assert np.all(lazy > 0)
    assert np.max(np.abs(lazy - eager)) < 1e-8
