"""``mailtwin check``: scenario files with expectations on several seeds, verdicts per expectation, JUnit XML
that a CI reads, and exit codes 0 / 1 / 2 (an invalid scenario is reported and the others still run)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml

from tests.helpers import network, station
from twin.cli import main
from twin.experiments.check import Checked, scenario_files

SMALL = network({"s1": station(mean="0.5s")}, [{"name": "a", "enter": "s1", "rate": "1/s"}], horizon="10m")


def write(folder, name, expect, **changes):
    data = {**SMALL, "meta": {"name": name}, "expect": expect, **changes}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def suite(tmp_path):
    folder = tmp_path / "suite"
    folder.mkdir()
    write(folder, "holds", ["recipients.lost == 0", "components.s1.utilisation < 0.9"])
    write(folder, "fails", ["recipients.lost == 0", "delivery_latency.all.p95_s <= 1ms"])
    return folder


def test_a_failing_expectation_fails_the_check_and_junit_names_its_value(suite, tmp_path, capsys):
    report = tmp_path / "check.xml"
    assert main(["check", str(suite), "--seeds", "2", "--jobs", "2", "--junit", str(report)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{suite}/fails.yaml: FAILED (2 seeds)"
    assert out[1].startswith("  ok     conservation_ok == true   [1: true, 2: true]")
    assert out[3].startswith("  FAILED delivery_latency.all.p95_s <= 1ms   [1: ")
    assert f"{suite}/holds.yaml: ok (2 seeds)" in out
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "12" and root.get("failures") == "2"
    fails = root.find(f"testsuite[@name='{suite}/fails.yaml']")
    failures = fails.findall("testcase/failure")
    assert len(failures) == 2 and failures[0].get("message").startswith("value ")
    assert {c.get("name") for c in fails.findall("testcase")} >= {
        "delivery_latency.all.p95_s <= 1ms [seed 2]"
    }


def test_all_holding_exits_0_and_out_keeps_every_runs_kpis(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    path = write(folder, "holds", ["recipients.lost == 0"])
    assert main(["check", str(path), "--seeds", "2", "--out", str(tmp_path / "o")]) == 0
    kpis = json.loads((tmp_path / "o").joinpath(*path.with_suffix("").parts[1:], "seed-2.json").read_text())
    assert kpis["expectations_ok"] and kpis["seed"] == 2


def test_an_invalid_scenario_is_exit_2_and_the_others_still_run(suite, tmp_path, capsys):
    (suite / "broken.yaml").write_text("meta: {name: b}\nclock: {start: 2010-05-03 00:00, horizon: -1h}\n")
    assert main(["check", str(suite)]) == 2
    out = capsys.readouterr().out
    assert (
        f"{suite}/broken.yaml: INVALID\n  {suite}/broken.yaml:2: clock.horizon: must be greater than 0" in out
    )
    assert f"{suite}/holds.yaml: ok (1 seeds)" in out


def test_an_expectation_passes_only_if_it_holds_on_every_seed():
    c = Checked(path=__import__("pathlib").Path("x.yaml"))
    c.scenario = type("S", (), {"expect": ["recipients.lost == 0"]})()
    base = {"conservation_ok": True}
    c.runs = {
        1: {**base, "expectations": [{"expect": "recipients.lost == 0", "value": 0, "ok": True}]},
        2: {**base, "expectations": [{"expect": "recipients.lost == 0", "value": 3, "ok": False}]},
    }
    assert not c.ok
    c.runs[2] = c.runs[1]
    assert c.ok


def test_folders_are_searched_for_yaml(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("")
    (tmp_path / "a" / "notes.txt").write_text("")
    (tmp_path / "y.yaml").write_text("")
    assert scenario_files([str(tmp_path)]) == [tmp_path / "a" / "x.yaml", tmp_path / "y.yaml"]
