"""Random streams keyed by component path (docs/architecture.md principle 3)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import network, simulate, station
from twin.sim.streams import Streams


def test_same_seed_and_path_give_the_same_draws_in_any_order():
    a, b = Streams(42), Streams(42)
    x = a.generator("frontend.fe1.sessions").random(5)
    a.generator("scanner.scan1.demand")
    b.generator("scanner.scan1.demand")
    y = b.generator("frontend.fe1.sessions").random(5)
    assert np.array_equal(x, y)


def test_other_paths_and_seeds_give_other_draws():
    s = Streams(1)
    x = s.generator("a").random(5)
    assert not np.array_equal(x, s.generator("b").random(5))
    assert not np.array_equal(x, Streams(2).generator("a").random(5))


def test_a_stream_is_handed_out_once():
    s = Streams(1)
    s.generator("a")
    with pytest.raises(ValueError, match="already handed out"):
        s.generator("a")


def test_adding_a_station_does_not_change_the_others_draws():
    src = [{"name": "a", "enter": "s1", "rate": "1/s"}]
    one = simulate(network({"s1": station(1, "0.5s")}, src, horizon="1h"), seed=3)
    two = simulate(network({"s1": station(1, "0.5s"), "s0": station(2, "3s")}, src, horizon="1h"), seed=3)
    cols = ["t_offered", "t_final"]
    assert one.ledger[cols].equals(two.ledger[cols])
