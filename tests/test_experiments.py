"""Sweeps, paired comparisons, the experiment folder and its reuse of finished runs, and the executors
(twin/experiments/{sweep,compare,store,executor}.py; docs/experiments.md)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import twin
from tests.helpers import network, station
from twin.analysis.statistics import welch_half_width
from twin.cli import main
from twin.experiments.compare import compare
from twin.experiments.executor import LocalPool, execute
from twin.experiments.store import ExperimentFolder, Point, runs_frame
from twin.experiments.sweep import grid, parse_vary, sweep

RHO = "components.s1.utilisation"
WAIT = "components.s1.mean_wait"


def mm1(rate="0.5/s", mean="1s", horizon="1h") -> dict:
    return network({"s1": station(mean=mean)}, [{"name": "a", "enter": "s1", "rate": rate}], horizon=horizon)


@pytest.fixture
def mm1_file(tmp_path):
    path = tmp_path / "mm1.yaml"
    path.write_text(json.dumps(mm1()))
    return path


class Counting(LocalPool):
    """A local pool that counts the runs it is given."""

    def __init__(self, jobs=1):
        super().__init__(jobs)
        self.ran: list[int] = []

    def results(self, runs):
        self.ran += [seed for _, seed in runs]
        yield from super().results(runs)


def test_workload_scale_multiplies_the_arrival_rate():
    """A source at 0.5/s with scale 2 offers what one at 1/s offers, draw for draw (the gaps are the same
    exponential draws, halved), and scale 1 is the scenario as written."""
    scaled = twin.simulate(twin.scenario_from_dict(mm1(), ["workload.scale=2"]), seed=3).kpis
    doubled = twin.simulate(twin.scenario_from_dict(mm1(rate="1/s")), seed=3).kpis
    assert scaled["recipients"]["offered"] == doubled["recipients"]["offered"]
    assert scaled["components"]["s1"] == doubled["components"]["s1"]
    plain = twin.simulate(twin.scenario_from_dict(mm1()), seed=3).kpis
    assert plain["recipients"]["offered"] < 0.6 * scaled["recipients"]["offered"]


def test_a_sweep_point_is_the_scenario_with_its_values_set(mm1_file):
    points = grid(
        str(mm1_file),
        ["clock.horizon=30m"],
        [parse_vary("workload.scale=1,1.5"), parse_vary("platform.stations.s1.servers=1,2")],
    )
    assert [p.label for p in points] == [
        {"workload.scale": 1, "platform.stations.s1.servers": 1},
        {"workload.scale": 1, "platform.stations.s1.servers": 2},
        {"workload.scale": 1.5, "platform.stations.s1.servers": 1},
        {"workload.scale": 1.5, "platform.stations.s1.servers": 2},
    ]
    assert (
        points[3].scenario.workload.scale == 1.5 and points[3].scenario.platform.stations["s1"].servers == 2
    )
    assert points[3].overrides == [
        "clock.horizon=30m",
        "workload.scale=1.5",
        "platform.stations.s1.servers=2",
    ]
    assert len({p.id for p in points}) == 4
    for bad in ("workload.scale", "=1,2", "workload.scale=", "workload.scale=1,,2", "workload.scale=1,1"):
        with pytest.raises(ValueError):
            parse_vary(bad)


def test_a_sweep_of_the_load_finds_the_utilisation_law(mm1_file):
    """rho = lambda x E[S]: 0.5 at scale 1 and 1.0 x 0.5 = 0.75 at scale 1.5, each within its interval
    (10 one-hour runs, ~1,800 and 2,700 services: the interval is a few per cent wide)."""
    points = grid(str(mm1_file), [], [parse_vary("workload.scale=1,1.5")])
    swept = sweep(points, list(range(1, 11)), [RHO], 0.95, LocalPool(2))
    for (point, rep), rho in zip(swept, (0.5, 0.75), strict=True):
        est = rep.estimates()[0]
        assert est["n"] == 10
        assert abs(est["mean"] - rho) <= est["half_width"] * 1.5, (point.label, est)


def test_the_folder_holds_every_run_and_a_rerun_reuses_them(mm1_file, tmp_path):
    points = grid(str(mm1_file), [], [parse_vary("workload.scale=1,2")])
    out = tmp_path / "exp"
    with ExperimentFolder(out, "sweep-mm1") as folder:
        folder.write_manifest("sweep", str(mm1_file), points, [1, 2, 3])
        pool = Counting()
        first = execute(points, [1, 2, 3], pool, folder)
    assert sorted(pool.ran) == [1, 1, 2, 2, 3, 3]
    dataset = pd.read_parquet(out / "runs")
    assert len(dataset) == 6
    assert set(dataset["experiment"]) == {"sweep-mm1"}
    assert set(dataset["point"].astype(str)) == {p.id for p in points}
    assert sorted(dataset["seed"].astype(int)) == [1, 1, 2, 2, 3, 3]
    manifest = json.loads((out / "experiment.json").read_text())
    assert [p["set"] for p in manifest["points"]] == [["workload.scale=1"], ["workload.scale=2"]]
    assert manifest["code"]["sources_sha256"] and manifest["packages"]["simpy"]
    # the same inputs again: nothing runs, the same numbers come back
    with ExperimentFolder(out, "sweep-mm1") as folder:
        pool = Counting()
        again = execute(points, [1, 2, 3], pool, folder)
    assert pool.ran == []
    assert {k: json.dumps(v) for k, v in again.items()} == {k: json.dumps(v) for k, v in first.items()}
    # one more seed and one more point: only those run
    more = grid(str(mm1_file), [], [parse_vary("workload.scale=1,2,3")])
    with ExperimentFolder(out, "sweep-mm1") as folder:
        pool = Counting()
        execute(more, [1, 2, 3, 4], pool, folder)
    assert sorted(pool.ran) == [1, 2, 3, 4, 4, 4]
    frame = runs_frame(out, [RHO])
    assert len(frame) == 6 and frame[RHO].notna().all()


def test_a_failed_run_is_kept_with_its_error_and_run_again_next_time(mm1_file, tmp_path):
    point = Point({}, [], twin.scenario_from_dict(mm1()))
    with ExperimentFolder(tmp_path / "exp", "x") as folder:
        results = execute([point], [1, -1], LocalPool(1), folder)
        assert "error" in results[(point.id, -1)] and "error" not in results[(point.id, 1)]
        pool = Counting()
        execute([point], [1, -1], pool, folder)
    assert pool.ran == [-1]
    rows = pd.read_parquet(tmp_path / "exp" / "runs")
    failed = rows[rows["seed"].astype(int) == -1].iloc[0]
    assert failed["status"] == "error" and "seed" in failed["error"]


def test_a_paired_comparison_is_narrower_than_independent_runs():
    """A faster server (0.8 s against 1 s) on the same seeds: the difference in the mean wait has a
    paired interval about half as wide as Welch's over independent runs (B on other seeds). It covers the
    theory: Wq = rho/(mu - lambda) = 1 s for A, 0.4/(1.25 - 0.5) = 0.533 s for B."""
    a = Point({"side": "A"}, [], twin.scenario_from_dict(mm1(horizon="2h")))
    b = Point({"side": "B"}, [], twin.scenario_from_dict(mm1(mean="0.8s", horizon="2h")))
    seeds = list(range(1, 11))
    same = compare(a, b, seeds, [WAIT], 0.95, LocalPool(2))
    paired = same.rows()[0]
    other = compare(a, b, list(range(101, 111)), [WAIT], 0.95, LocalPool(2))
    independent = welch_half_width(same.a.values(WAIT), other.b.values(WAIT), 0.95)
    assert paired["n"] == 10
    # Measured: 0.043 against 0.085. With Var(B) ~ Var(A)/4 and a correlation of ~0.9 between the paired
    # runs, theory gives sqrt((1 + 1/4 - 0.9) / (1 + 1/4)) ~ 0.53 of the width.
    assert paired["paired_half_width"] < 0.75 * independent, (paired, independent)
    assert paired["paired_half_width"] < 0.75 * paired["independent_half_width"]
    theory = 0.4 / 0.75 - 1.0
    assert abs(paired["difference"] - theory) <= 2 * paired["paired_half_width"] + 0.05
    assert not math.isnan(paired["independent_half_width"])


def test_sweep_and_compare_commands(mm1_file, tmp_path, capsys):
    out = tmp_path / "sw"
    args = ["sweep", str(mm1_file), "--vary", "workload.scale=1,1.5", "--seeds", "2", "--kpi", RHO]
    assert main([*args, "--out", str(out), "--jobs", "2"]) == 0
    printed = capsys.readouterr()
    assert "workload.scale=1.5" in printed.out and "4 of 4 runs done" in printed.err
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["workload.scale"]) == [1.0, 1.5] and list(summary["n"]) == [2, 2]
    assert (out / "plots" / f"{RHO}.png").stat().st_size > 1000
    assert main([*args, "--out", str(out), "--jobs", "2"]) == 0
    assert "(4 reused" in capsys.readouterr().err
    assert main(["sweep", str(mm1_file), "--vary", "workload.scale=1,x", "--out", str(out)]) == 2
    assert "workload.scale" in capsys.readouterr().err
    assert main(["sweep", str(mm1_file), "--vary", "nonsense"]) == 2

    cmp_out = tmp_path / "cmp"
    base = ["compare", str(mm1_file), "--seeds", "3", "--kpi", WAIT, "--out", str(cmp_out), "--jobs", "2"]
    assert main([*base, "--b-set", "platform.stations.s1.servers=2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["differences"][0]
    assert row["n"] == 3 and row["difference"] < 0 and row["paired_half_width"] is not None
    assert main(base) == 2
    assert "same scenario" in capsys.readouterr().err
    assert main([*base, "--b-set", "nope=1"]) == 2


def test_welchs_half_width_is_scipys():
    from scipy import stats

    a, b = [1.0, 2.5, 2.0, 3.1, 1.7], [2.2, 4.0, 3.9, 2.8, 5.5, 4.1, 3.3]
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert welch_half_width(a, b, 0.95) == pytest.approx((ci.high - ci.low) / 2, rel=1e-9)
