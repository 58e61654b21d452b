"""``mailtwin replicate`` (twin/experiments/estimates.py, docs/experiments.md): a KPI's mean and Student-t
interval over independent replications, a sequential stop at a relative precision, and the command's
inputs and exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

import twin
from tests.helpers import network, station
from twin.cli import main
from twin.experiments.estimates import parse_seeds, replicate_kpis

# M/M/1, lambda 0.5/s, mean service 1 s: utilisation rho = 0.5 and mean wait rho/(mu - lambda) = 1 s
MM1 = twin.scenario_from_dict(
    network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "0.5/s"}], horizon="2h", warmup="10m")
)
RHO = "components.s1.utilisation"
WAIT = "components.s1.mean_wait"


@pytest.fixture(scope="module")
def ten():
    return replicate_kpis(MM1, list(range(1, 11)), [RHO, WAIT], level=0.95, jobs=2)


def test_the_interval_is_students_t_over_the_runs_and_covers_the_theory(ten):
    """Ten runs of 110 minutes: the 95 % intervals contain rho = 0.5 and Wq = 1 s (M/M/1), and the
    half-width is t(0.975, 9) s / sqrt(10) of the runs' values."""
    rows = {r["kpi"]: r for r in ten.estimates()}
    for kpi, theory in ((RHO, 0.5), (WAIT, 1.0)):
        xs = np.array(ten.values(kpi))
        assert len(xs) == 10
        half = stats.t.ppf(0.975, 9) * xs.std(ddof=1) / np.sqrt(10)
        assert rows[kpi]["mean"] == pytest.approx(xs.mean())
        assert rows[kpi]["half_width"] == pytest.approx(half)
        assert abs(rows[kpi]["mean"] - theory) <= rows[kpi]["half_width"], (kpi, rows[kpi])


def test_the_runs_are_the_single_runs_of_their_seeds(ten):
    for seed in (1, 7):
        single = twin.simulate(MM1, seed=seed).kpis["components"]["s1"]["utilisation"]
        assert ten.runs[seed]["components"]["s1"]["utilisation"] == single


def test_a_sequential_stop_ends_once_every_kpi_is_precise_enough():
    loose = replicate_kpis(MM1, list(range(1, 21)), [RHO], precision=0.05, jobs=2)
    assert 3 <= len(loose.runs) < 20  # rho's runs differ by a few per cent: a few rounds suffice
    assert loose.estimates()[0]["relative"] <= 0.05 and loose.precise()
    tight = replicate_kpis(MM1, list(range(1, 5)), [RHO], precision=0.0001, jobs=2)
    assert len(tight.runs) == 4 and not tight.precise()  # the seeds run out first: said, not hidden
    assert tight.estimates()[0]["within_precision"] is False


def test_a_failing_run_is_reported_and_the_others_count():
    rep = replicate_kpis(MM1, [1, -1, 2], [RHO], jobs=2)
    assert list(rep.errors) == [-1]
    assert rep.estimates()[0]["n"] == 2


def test_seeds_are_n_a_range_or_a_list():
    assert parse_seeds("3") == [1, 2, 3] and parse_seeds("5-7") == [5, 6, 7] and parse_seeds("4,9") == [4, 9]
    for bad in ("0", "7-5", "x", "1,1", ""):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_the_command_prints_json_and_refuses_bad_input(tmp_path, capsys):
    path = tmp_path / "mm1.yaml"
    path.write_text(
        json.dumps(network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "0.5/s"}], horizon="20m"))
    )
    assert main(["replicate", str(path), "--seeds", "1-3", "--kpi", RHO, "--json", "--jobs", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [1, 2, 3] and out["estimates"][0]["kpi"] == RHO and out["estimates"][0]["n"] == 3
    assert main(["replicate", str(path), "--kpi", "nope.x"]) == 2
    assert "--kpi 'nope.x'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["replicate", str(path), "--level", "150%"])
    assert exc.value.code == 2
