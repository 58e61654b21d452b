"""The Python API checks what it is given as the CLI does, with ScenarioError."""

from __future__ import annotations

import math

import pytest

import twin
from tests.helpers import BASELINE, network, station
from twin.model import Model

SMALL = network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "1/s"}], horizon="10m")


def test_a_binary_file_is_a_scenario_error(tmp_path):
    (tmp_path / "b.yaml").write_bytes(bytes(range(256)))
    with pytest.raises(twin.ScenarioError, match="not a text file"):
        twin.load_scenario(tmp_path / "b.yaml")


def test_overrides_given_as_one_string_are_one_override():
    sc = twin.load_scenario(BASELINE, "clock.horizon=2h")
    assert sc.clock.horizon == 7200
    with pytest.raises(twin.ScenarioError, match=r"expected a list of 'dotted\.path=value' strings"):
        twin.load_scenario(BASELINE, {"clock.horizon": "1h"})


@pytest.mark.parametrize("seed", [1.5, -1, True, "3", 2**64])
def test_a_seed_must_be_a_whole_number(seed):
    with pytest.raises(twin.ScenarioError, match="seed: must be a whole number from 0 to 2"):
        twin.simulate(twin.scenario_from_dict(SMALL), seed=seed)


def test_a_dict_is_not_a_scenario():
    with pytest.raises(twin.ScenarioError, match=r"expected a Scenario .* got dict"):
        twin.simulate(SMALL)


def test_a_scenario_changed_after_validation_is_checked_again():
    sc = twin.scenario_from_dict(SMALL)
    sc.clock.horizon = -5
    with pytest.raises(twin.ScenarioError, match=r"clock\.horizon: must be greater than 0"):
        twin.simulate(sc)


def test_infinity_from_python_is_refused_too():
    data = {**SMALL, "clock": {**SMALL["clock"], "horizon": math.inf}}
    with pytest.raises(twin.ScenarioError, match=r"clock\.horizon: must be a finite number"):
        twin.scenario_from_dict(data)


@pytest.mark.parametrize("until", [math.nan, -1.0, "1h"])
def test_advance_refuses_a_time_that_is_not_ahead(until):
    m = Model(twin.scenario_from_dict(SMALL), seed=1)
    m.advance(60)
    with pytest.raises(twin.ScenarioError, match="until: expected a time >= now"):
        m.advance(until if until != -1.0 else 30.0)


def test_the_checked_scenario_runs_the_same_as_the_original():
    sc = twin.scenario_from_dict(SMALL)
    a = twin.simulate(sc, seed=4)
    b = Model(sc, seed=4)
    b.run()
    assert a.kpis["recipients"]["offered"] == b.ledger.n


def test_a_model_checks_a_changed_scenario_too():
    sc = twin.scenario_from_dict(SMALL)
    sc.platform.stations["s1"].servers = 0
    with pytest.raises(
        twin.ScenarioError, match=r"platform\.stations\.s1\.servers: must be greater than or equal to 1"
    ):
        Model(sc, seed=1)
