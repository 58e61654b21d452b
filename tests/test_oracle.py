"""The analytic oracle of every run (twin/analysis/oracle.py): queueing theory's predictions beside the
run's measurements, and a verdict that says a modelling error from a non-Poisson effect."""

from __future__ import annotations

import twin
from tests.helpers import network, station
from twin.analysis.oracle import oracle
from twin.report.html import _oracle


def tandem_kpis() -> dict:
    """M/M/2 (lambda 1/s, mean service 1 s, rho 0.5) feeding M/D/1 (constant 0.5 s, rho 0.5), 4 hours."""
    data = network(
        {"s1": station(servers=2, routing={"s2": 1.0}), "s2": station(mean="0.5s", dist="constant")},
        [{"name": "a", "enter": "s1", "rate": "1/s"}],
        horizon="4h",
    )
    return twin.simulate(twin.scenario_from_dict(data), seed=1).kpis


def test_every_run_carries_the_oracle_and_it_tells_the_two_stations_apart():
    """s1 is M/M/2: Ca² and Cs² near 1, the mean wait within 25 % of Erlang C's (~0.333 s), no warning.
    s2 is M/D/1: Cs² = 0, so M/M/1's wait (0.5 s) is twice the Pollaczek-Khinchine value (0.25 s); the
    oracle flags a non-Poisson effect, and its G/G/c figure (exact for M/G/1) is within 10 % of the run
    (14,000 customers at rho 0.5: the mean wait's sampling error is a few per cent)."""
    k = tandem_kpis()
    s1, s2 = k["oracle"]["s1"], k["oracle"]["s2"]
    assert s1["poisson"] and s1["exponential"] and s1["warnings"] == []
    assert abs(s1["utilisation_predicted"] - 0.5) < 0.02 and abs(s1["wait_mmc_s"] - 1 / 3) < 0.03
    assert s2["poisson"] and not s2["exponential"] and s2["service_scv"] < 0.01
    assert len(s2["warnings"]) == 1 and "non-Poisson effect" in s2["warnings"][0]
    assert abs(s2["wait_ggc_s"] - s2["wait_simulated_s"]) < 0.1 * s2["wait_simulated_s"]
    assert abs(s2["wait_simulated_s"] - 0.25) < 0.025
    rows = {r[0]: r for r in _oracle(k)}
    assert rows["s1"][-1] == {"verdict": True, "text": "agrees"}
    assert rows["s2"][-1]["verdict"] is False


def station_figures(**change) -> dict:
    """An M/M/1 at rho 0.5 as a run would report it (mean service 1 s, Wq 1 s), with ``change``."""
    c = {
        "servers": 1,
        "customers": 5000,
        "mean_wait": 1.0,
        "mean_sojourn": 2.0,
        "mean_in_system": 1.0,
        "utilisation": 0.5,
        "background_utilisation": 0.0,
        "arrival_scv": 1.0,
        "service_scv": 1.0,
    }
    return {**c, **change}


def test_the_verdicts():
    assert oracle({"s": station_figures()})["s"]["warnings"] == []
    wrong = oracle({"s": station_figures(mean_wait=2.0, mean_sojourn=3.0, mean_in_system=1.5)})["s"]
    assert "a modelling error" in wrong["warnings"][0]  # Poisson, exponential, and yet twice the wait
    bursty = oracle(
        {"s": station_figures(mean_wait=2.0, mean_sojourn=3.0, mean_in_system=1.5, arrival_scv=3.0)}
    )
    assert "non-Poisson effect" in bursty["s"]["warnings"][0] and "Ca² = 3.00" in bursty["s"]["warnings"][0]
    uncounted = oracle({"s": station_figures(utilisation=0.6)})["s"]
    assert uncounted["warnings"][0].startswith("utilisation law: X x S / c = 50.0% against 60.0%")
    assert oracle({"s": station_figures(customers=50)}) == {}  # too few customers to say anything
    saturated = oracle({"s": station_figures(mean_in_system=2.2)})["s"]  # X = 1.1/s, S = 1 s
    assert "no steady state" in saturated["warnings"][-1]
