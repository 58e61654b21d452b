"""The station machinery against M/M/1, M/M/c (Erlang C) and Jackson networks.

Run lengths: each replication offers traffic for 40,000 s after a 4,000 s warm-up (about 100 relaxation
times of the busiest station), 20 replications per test.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import network, station
from tests.validation.replications import estimates, station_stat
from twin.analysis.queueing import jackson, mmc

HORIZON, WARMUP = "44000s", "4000s"
MAX_RELATIVE_HALF_WIDTH = 0.06
REPLICATIONS_DIRECT = 20  # replications of the tests that drive a Station directly


def _check(est, analytic: float, what: str) -> None:
    # Shown with `pytest -s`: the figures the closing notes and docs/validation.md quote.
    print(f"{what}: simulated {est}, analytic {analytic:.4g}, error {(est.mean - analytic) / analytic:+.2%}")
    assert est.relative_half_width < MAX_RELATIVE_HALF_WIDTH, f"{what}: interval too wide to judge: {est}"
    assert est.covers(analytic), f"{what}: simulated {est}, analytic {analytic:.4g}"


def test_mm1_mean_wait_matches_rho_over_mu_minus_lambda():
    # M/M/1, lambda = 0.7/s, mu = 1/s: W_q = rho / (mu - lambda) = 0.7 / 0.3 = 2.333 s, rho = 0.7.
    data = network({"s1": station(1, "1s")}, [{"name": "a", "enter": "s1", "rate": "0.7/s"}], HORIZON, WARMUP)
    est = estimates(data, {"wq": station_stat("s1", "mean_wait"), "rho": station_stat("s1", "utilisation")})
    theory = mmc(0.7, 1.0, 1)
    assert theory.mean_wait == pytest.approx(0.7 / 0.3)
    _check(est["wq"], theory.mean_wait, "M/M/1 W_q")
    _check(est["rho"], theory.utilisation, "M/M/1 utilisation")


def test_mmc_mean_wait_matches_erlang_c():
    # M/M/3, lambda = 2.1/s, mu = 1/s (rho = 0.7): Erlang C(3, 2.1) = 0.4923,
    # W_q = C / (3 mu - lambda) = 0.547 s.
    data = network({"s1": station(3, "1s")}, [{"name": "a", "enter": "s1", "rate": "2.1/s"}], HORIZON, WARMUP)
    est = estimates(data, {"wq": station_stat("s1", "mean_wait"), "lq": station_stat("s1", "mean_queue")})
    theory = mmc(2.1, 1.0, 3)
    assert theory.mean_wait == pytest.approx(0.54705, rel=1e-4)
    _check(est["wq"], theory.mean_wait, "M/M/3 W_q")
    _check(est["lq"], theory.mean_queue, "M/M/3 L_q")


def test_three_station_tandem_matches_jackson():
    # Tandem of M/M/1 stations fed at 0.5/s with rho = 0.6, 0.7, 0.5: by Jackson's theorem each behaves as
    # an independent M/M/1, W_i = 1 / (mu_i - lambda) = 3.0, 4.667, 2.0 s; time in the network 9.667 s.
    stations = {
        "s1": station(1, "1.2s", routing={"s2": 1.0}),
        "s2": station(1, "1.4s", routing={"s3": 1.0}),
        "s3": station(1, "1s"),
    }
    data = network(stations, [{"name": "a", "enter": "s1", "rate": "0.5/s"}], HORIZON, WARMUP)

    def network_time(kpis):  # offered to delivered, for customers offered after the warm-up
        return kpis["delivery_latency"]["all"]["mean_s"]

    measures = {f"w{i}": station_stat(f"s{i}", "mean_sojourn") for i in (1, 2, 3)} | {"total": network_time}
    est = estimates(data, measures)
    tandem = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    figures, total = jackson([0.5, 0, 0], tandem, [1 / 1.2, 1 / 1.4, 1.0], [1, 1, 1])
    assert total == pytest.approx(3.0 + 1 / (1 / 1.4 - 0.5) + 2.0)
    for i, fig in enumerate(figures, start=1):
        _check(est[f"w{i}"], fig.mean_sojourn, f"tandem station s{i} W")
    _check(est["total"], total, "tandem time in network")


def test_jackson_network_with_branching_and_feedback():
    # s1 (2 servers) gets 1.0/s from outside and sends 50 % to s2, 30 % to s3, 20 % out; s2 returns 25 % to
    # s1. Traffic equations: lambda1 = 1 + 0.25 lambda2, lambda2 = 0.5 lambda1 -> lambda1 = 1.1429/s.
    stations = {
        "s1": station(2, "1.2s", routing={"s2": 0.5, "s3": 0.3}),
        "s2": station(1, "1s", routing={"s1": 0.25}),
        "s3": station(1, "2s"),
    }
    data = network(stations, [{"name": "a", "enter": "s1", "rate": "1/s"}], HORIZON, WARMUP)
    est = estimates(data, {f"l{i}": station_stat(f"s{i}", "mean_in_system") for i in (1, 2, 3)})
    p = [[0, 0.5, 0.3], [0.25, 0, 0], [0, 0, 0]]
    figures, _ = jackson([1.0, 0, 0], p, [1 / 1.2, 1.0, 0.5], [2, 1, 1])
    assert figures[0].arrival_rate == pytest.approx(1 / (1 - 0.125))
    for i, fig in enumerate(figures, start=1):
        _check(est[f"l{i}"], fig.mean_in_system, f"Jackson station s{i} L")


def test_littles_law_holds_at_every_station():
    # L = lambda W on each sample path, up to the customers present at the ends of the measured span
    # (about 2 L W / T = 2 * 2.3 * 3.3 / 40,000 = 0.04 % here); 1 % allows for that and nothing more.
    stations = {"s1": station(2, "1.5s", routing={"s2": 0.6}), "s2": station(1, "1s")}
    data = network(stations, [{"name": "a", "enter": "s1", "rate": "1/s"}], HORIZON, WARMUP)
    import twin

    res = twin.simulate(twin.scenario_from_dict(data), seed=7)
    span = 44000.0 - 4000.0
    for name in ("s1", "s2"):
        c = res.kpis["components"][name]
        lam = c["customers"] / span
        assert c["mean_in_system"] == pytest.approx(lam * c["mean_sojourn"], rel=0.01), name
        assert c["mean_queue"] == pytest.approx(lam * c["mean_wait"], rel=0.01), name


def test_erlang_c_formula_against_direct_sum():
    # The stable recurrence used in erlang_c against the textbook sum formula for c = 5, a = 3.7.
    from math import factorial

    from twin.analysis.queueing import erlang_c

    c, a = 5, 3.7
    top = a**c / factorial(c) * c / (c - a)
    direct = top / (sum(a**k / factorial(k) for k in range(c)) + top)
    assert erlang_c(c, a) == pytest.approx(direct, rel=1e-12)
    assert np.isclose(erlang_c(1, 0.7), 0.7)


def test_a_station_with_a_background_batch_matches_the_gated_vacation_queue():
    # One server, Poisson customers (lambda = 3/s, exponential service of mean 0.1 s: rho = 0.3) and a
    # background batch of one stream of 0.2 s requests that never runs out: the M/G/1 queue with multiple
    # vacations of V = 0.2 s and gated service,
    # W_q = lambda E[S^2] / (2 (1 - rho)) + V / 2 + rho V / (1 - rho) = 0.0429 + 0.1 + 0.0857 = 0.2286 s
    # (0.0429 s without the batch); the batch gets the time the customers leave, 1 - rho = 0.7 of the
    # server. 20 replications of 20,000 s (60,000 customers) after 1,000 s of warm-up; a cycle lasts
    # V / (1 - rho) = 0.29 s, so each replication spans ~70,000 cycles.
    import simpy

    from twin.analysis.queueing import gated_vacations_wait
    from twin.analysis.statistics import confidence_interval
    from twin.components.station import Station

    lam, mean, v, warmup, span = 3.0, 0.1, 0.2, 1000.0, 20000.0
    waits, shares = [], []
    for seed in range(1, REPLICATIONS_DIRECT + 1):
        rng = np.random.default_rng(seed)
        n = int((warmup + span) * lam * 1.1)
        arrivals, services = np.cumsum(rng.exponential(1 / lam, n)), rng.exponential(mean, n)
        st = Station(simpy.Environment(), "disk", 1)
        st.start_batch(10**9, 1, v, 0.0)
        total_wait = count = 0
        for t, s in zip(arrivals.tolist(), services.tolist(), strict=True):
            if t > warmup + span:
                break
            if count == 0 and t >= warmup:
                st.reset_stats(t)
            end = st.assign(s, t)
            if t >= warmup:
                total_wait += end - s - t
                count += 1
        waits.append(total_wait / count)
        shares.append(st.summary(warmup + span)["background_utilisation"])
    theory = gated_vacations_wait(lam, mean, 2 * mean**2, v)
    assert theory == pytest.approx(0.22857, rel=1e-4)
    _check(confidence_interval(waits, 0.999), theory, "gated vacations W_q")
    _check(confidence_interval(shares, 0.999), 1 - lam * mean, "background share")
