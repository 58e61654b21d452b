"""``mailtwin capacity`` (twin/experiments/capacity.py, docs/experiments.md): the growth limit of a field
under service levels, its bottleneck, and the N-1 table."""

from __future__ import annotations

import json

import pytest

import twin
from tests.helpers import network, station
from twin.cli import main
from twin.experiments.capacity import judge, parse_slos, search
from twin.experiments.estimates import Replicated
from twin.experiments.executor import LocalPool
from twin.experiments.store import Point
from twin.scenario.expectations import ExpectationError

WAIT = "components.s1.mean_wait"


def tandem() -> dict:
    """s1 (M/M/1, mean service 1 s) feeding s2 (mean 0.4 s), 0.25 arrivals a second at factor 1."""
    data = network(
        {"s1": station(routing={"s2": 1.0}), "s2": station(mean="0.4s")},
        [{"name": "a", "enter": "s1", "rate": "0.25/s"}],
        horizon="3h",
        warmup="30m",
    )
    return data


def test_the_limit_is_below_the_m_m_1_value_by_the_interval_only():
    """Wq = rho/(1 - rho) x 1 s <= 1 s holds up to rho = 0.5, factor 2 (Kleinrock, M/M/1). The search
    demands the interval's upper end below 1 s: with 3 runs of 2.5 h (~2,000 customers each at the
    limit) the interval's half-width is ~0.25 s, which near rho = 0.5 moves the limit down by up to ~15 %.
    So the limit lies in [1.6, 2.0], s1 is the bottleneck, and the bracket is within the tolerance."""

    def point_at(f: float) -> Point:
        return Point({"factor": f}, [], twin.scenario_from_dict(tandem(), [f"workload.scale={f}"]))

    slos = parse_slos([f"{WAIT} <= 1s"])
    lim = search(point_at, slos, [1, 2, 3], 0.95, LocalPool(2), tolerance=0.05)
    assert 1.6 <= lim.limit <= 2.0, lim.as_dict()
    assert (lim.above - lim.limit) / lim.limit <= 0.05
    assert lim.bottleneck.startswith("s1 CPU")
    factors = [s.factor for s in lim.steps]
    assert factors[:2] == [1.0, 2.0]  # doubles from 1, then bisects


def test_an_slo_holds_at_the_far_end_of_its_interval():
    rep = Replicated([WAIT], 0.95)
    rep.runs = {s: {"components": {"s1": {"mean_wait": w}}} for s, w in ((1, 0.8), (2, 0.9), (3, 1.0))}
    # mean 0.9, half-width t(0.975, 2) x 0.1 / sqrt(3) = 0.248: the upper end 1.148 > 1
    assert judge(rep, parse_slos([f"{WAIT} <= 1s"]), 0.95)[0] is False
    assert judge(rep, parse_slos([f"{WAIT} <= 1.2s"]), 0.95)[0] is True
    assert judge(rep, parse_slos([f"{WAIT} >= 0.6"]), 0.95)[0] is True  # the lower end 0.652
    assert judge(rep, parse_slos([f"{WAIT} >= 0.7"]), 0.95)[0] is False
    with pytest.raises(ExpectationError, match="a bound"):
        parse_slos([f"{WAIT} == 1"])


def test_the_command_prints_the_n_1_table(tmp_path, capsys):
    path = tmp_path / "tandem.yaml"
    path.write_text(json.dumps(tandem()))
    out = tmp_path / "cap"
    args = ["capacity", str(path), "--grow", "workload.scale", "--slo", f"{WAIT} <= 1s", "--at", "30m"]
    args += ["--duration", "2h", "--out", str(out), "--jobs", "2", "--tolerance", "10%"]
    assert main([*args, "--n-1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["failure", "max", "growth", "bottleneck", "at", "the", "limit"]
    rows = {line.split()[0]: line for line in printed[1:4]}
    assert set(rows) == {"none", "s1", "s2"}
    assert "s1 CPU" in rows["none"]
    assert "fails even at" in rows["s1"]  # s1 down: no service at all, at any load
    report = (out / "capacity.md").read_text()
    assert report.splitlines()[2] == "| failure | max growth | bottleneck at the limit |"
    result = json.loads((out / "capacity.json").read_text())
    assert [r["failure"] for r in result] == [None, "s1", "s2"]
    limit = result[0]["max_growth"]
    assert 1.5 <= limit <= 2.0
    assert result[2]["max_growth"] is None or result[2]["max_growth"] <= limit
    # bad input: a field that is not a number, an SLO that is no bound, a window outside the clock
    assert main([*args[:2], "--grow", "meta.name", "--slo", f"{WAIT} <= 1s", "--at", "30m"]) == 2
    assert "not a number" in capsys.readouterr().err
    assert main([*args[:2], "--grow", "workload.scale", "--slo", f"{WAIT} == 1", "--at", "30m"]) == 2
    assert main([*args[:2], "--grow", "workload.scale", "--slo", f"{WAIT} <= 1s", "--at", "10m"]) == 2
    assert "window" in capsys.readouterr().err


def test_growth_stops_below_a_factor_that_would_not_fit_the_memory(tmp_path, capsys, monkeypatch):
    """With room for the run at factor 1 but not at 2 (the memory estimate grows with workload.scale),
    the search does not start the run at 2: the limit is 'at least x1', and the table says why."""
    from twin.scenario import footprint

    path = tmp_path / "tandem.yaml"
    path.write_text(json.dumps(tandem()))
    at = [twin.scenario_from_dict(tandem(), [f"workload.scale={f}"]) for f in (1, 2)]
    one, two = (footprint.estimate(sc).peak_bytes for sc in at)
    assert two > one
    monkeypatch.setattr(footprint, "available_memory", lambda: (one + two) / 2)
    args = ["capacity", str(path), "--grow", "workload.scale", "--slo", f"{WAIT} <= 100s", "--at", "30m"]
    assert main([*args, "--duration", "1h", "--out", str(tmp_path / "cap"), "--jobs", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["max_growth"] == 1.0 and result["first_failing"] is None
    assert result["ceiling"].startswith("x2 not run: expected peak memory")
    assert [s["factor"] for s in result["steps"]] == [1.0]
