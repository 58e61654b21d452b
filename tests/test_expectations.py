"""Expectations (``expect:``): the parser, the paths into kpis.json, the verdicts after a run, and the exit
codes: 2 for an expectation that cannot be read (before anything runs), 1 for one that fails."""

from __future__ import annotations

import json

import pytest
import yaml

import twin
from tests.helpers import BASELINE, network, station
from twin.cli import main
from twin.scenario.expectations import (
    KPI_BLOCKS,
    MISSING,
    ExpectationError,
    evaluate,
    parse_expectation,
    resolve,
)

SHORT = ["--set", "clock.horizon=20m", "--set", "clock.drain=5m"]


@pytest.mark.parametrize(
    ("text", "path", "op", "value"),
    [
        ("recipients.lost == 0", ("recipients", "lost"), "==", 0),
        (
            "incidents[target=store].duration_s <= 1h",
            ("incidents", ("target", "store"), "duration_s"),
            "<=",
            3600,
        ),
        ("delivery_latency.all.p95_s<60s", ("delivery_latency", "all", "p95_s"), "<", 60),
        ('by_stage."sender verify".rejected >= 4KB', ("by_stage", "sender verify", "rejected"), ">=", 4096),
        ("service_quality.met.deliveries == true", ("service_quality", "met", "deliveries"), "==", True),
        ('scenario != "baseline"', ("scenario",), "!=", "baseline"),
        ("components.fe1.utilisation > 0.5", ("components", "fe1", "utilisation"), ">", 0.5),
        ("incidents[0].duration_s == 1d2h", ("incidents", 0, "duration_s"), "==", 93600),
    ],
)
def test_expectations_read_as_a_person_writes_them(text, path, op, value):
    e = parse_expectation(text)
    assert (e.path, e.op, e.value) == (path, op, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("recipients.lost ~ 0", "expected an operator (== != <= >= < >) after 'recipients.lost' (got '~ 0')"),
        ("recipients.lost ==", "expected a value after the operator"),
        (
            "recipients.lost == lots",
            "expected a number, a duration (1h), a size (4KB), true, false or a quoted",
        ),
        ("recipients.lots == 0", "no 'lots' in recipients (expected one of: offered, delivered"),
        ("nothing.x == 1", "no 'nothing' in the results (expected one of: scenario, seed"),
        ("delivery_latency.all.p97_s < 1", "no 'p97_s' in a delivery latency"),
        ("__import__('os') == 1", "expected an operator (== != <= >= < >) after '__import__'"),
        ("[0] == 1", "expected a name of the results at"),
        ("recipients.lost == .inf", "expected a number"),
    ],
)
def test_an_expectation_that_cannot_be_read_says_why(text, message):
    with pytest.raises(ExpectationError) as exc:
        parse_expectation(text)
    assert str(exc.value).startswith(message)


def test_selectors_pick_every_matching_entry_and_all_must_hold():
    kpis = {
        "incidents": [{"target": "store", "d": 5}, {"target": "fe1", "d": 50}, {"target": "store", "d": 9}]
    }
    assert resolve(kpis, parse_expectation("incidents[target=store].duration_s == 1").path) == [
        MISSING,
        MISSING,
    ]
    e = parse_expectation("incidents[target=store].duration_s <= 1")
    e = type(e)(e.text, ("incidents", ("target", "store"), "d"), e.op, 6)
    assert evaluate(e, kpis) == {"expect": e.text, "value": [5, 9], "ok": False}
    nothing = parse_expectation("incidents[target=kdc].duration_s <= 1h")
    assert evaluate(nothing, kpis) == {
        "expect": nothing.text,
        "value": None,
        "ok": False,
    }  # missing never holds


def test_a_failing_expectation_exits_1_and_is_named_with_its_value(tmp_path, capsys):
    argv = ["run", str(BASELINE), "--out", str(tmp_path / "o"), *SHORT]
    argv += ["--set", "expect+=recipients.lost == 0", "--set", "expect+=delivery_latency.all.p95_s <= 1ms"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "expect recipients.lost == 0: ok (value 0)" in out
    assert "expect delivery_latency.all.p95_s <= 1ms: FAILED (value " in out
    kpis = json.loads((tmp_path / "o" / "kpis.json").read_text())
    assert [e["ok"] for e in kpis["expectations"]] == [True, False] and kpis["expectations_ok"] is False
    assert kpis["expectations"][1]["value"] == kpis["delivery_latency"]["all"]["p95_s"] > 0.001


def test_expectations_that_hold_exit_0(tmp_path):
    argv = ["run", str(BASELINE), "--out", str(tmp_path / "o"), *SHORT]
    argv += ["--set", "expect=[recipients.lost == 0, conservation_ok == true, recipients.delivered > 0]"]
    assert main(argv) == 0


def test_a_bad_expectation_in_a_file_is_exit_2_with_its_line_before_anything_runs(
    tmp_path, capsys, monkeypatch
):
    data = yaml.safe_load(BASELINE.read_text())
    data["expect"] = ["recipients.lost == 0", "recipients.lots == 0"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    line = path.read_text().splitlines().index("- recipients.lots == 0") + 1
    monkeypatch.setattr(twin, "simulate", lambda *a, **k: pytest.fail("ran although an expectation is bad"))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith(f"{path}:{line}: expect[1]: no 'lots' in recipients")


def test_the_blocks_an_expectation_may_name_are_those_of_kpis_json():
    # a store outage and its incident, so that every block a baseline run can have is there
    sc = twin.load_scenario(
        BASELINE, ["clock.horizon=20m", "faults=[{kind: outage, target: store, at: 5m, duration: 5m}]"]
    )
    kpis = twin.simulate(sc, seed=1).kpis
    assert set(kpis) - {"expectations", "expectations_ok"} <= set(KPI_BLOCKS)
    assert tuple(kpis["recipients"]) == KPI_BLOCKS["recipients"]
    assert tuple(kpis["replication"]) == KPI_BLOCKS["replication"]
    assert tuple(kpis["submission"]) == KPI_BLOCKS["submission"]
    small = network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "1/s"}], horizon="5m")
    assert set(twin.simulate(twin.scenario_from_dict(small)).kpis) - {
        "expectations",
        "expectations_ok",
    } <= set(KPI_BLOCKS)
