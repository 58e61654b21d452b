"""The ``degraded`` fault: the node works, but every service time of its stations is ``factor`` times
longer while it lasts; work that arrives before or after is served at full speed."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.helpers import BASELINE, network, simulate, station


def test_a_degraded_station_serves_factor_times_slower_only_while_it_lasts():
    # one server, 1 s of work per customer, arrivals far apart: sojourn = service time exactly
    data = network(
        {"s1": station(dist="constant", mean="1s")},
        [{"name": "a", "enter": "s1", "rate": "0.02/s"}],
        horizon="2h",
        faults=[{"kind": "degraded", "target": "s1", "at": "30m", "until": "1h", "factor": 4}],
    )
    led = simulate(data, seed=3).ledger
    sojourn = (led["t_final"] - led["t_offered"]).to_numpy()
    during = ((led["t_offered"] >= 1800) & (led["t_offered"] < 3600)).to_numpy()
    waited = np.r_[False, np.diff(led["t_offered"].to_numpy()) < 4.0]  # the rare customer that queued
    assert during.sum() > 10 and (~during).sum() > 20
    assert sojourn[during & ~waited] == pytest.approx(4.0)
    assert sojourn[~during & ~waited] == pytest.approx(1.0)


def test_a_degraded_node_is_an_incident_with_its_factor_and_no_dependents():
    sc = twin.load_scenario(
        BASELINE,
        ["clock.horizon=20m", "faults=[{kind: degraded, target: store, at: 5m, duration: 5m, factor: 4}]"],
    )
    k = twin.simulate(sc, seed=1).kpis
    (inc,) = k["incidents"]
    assert (inc["target"], inc["degraded_factor"], inc["start_s"], inc["end_s"]) == ("store", 4, 300, 600)
    assert inc["effect"].startswith("works 4 times slower") and inc["dependents"] == []
    assert k["recipients"]["lost"] == 0 and k["conservation_ok"]


@pytest.mark.parametrize("factor", [1, 0.5, 1001])
def test_a_factor_must_slow_down(factor, capsys):
    from twin.cli import main

    fault = f"faults=[{{kind: degraded, target: store, at: 5m, duration: 5m, factor: {factor}}}]"
    assert main(["validate", str(BASELINE), "--set", fault]) == 2
    assert "faults[0].factor: must be" in capsys.readouterr().err
