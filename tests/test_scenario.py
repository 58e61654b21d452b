"""Loading scenario files: defaults, units, the shipped catalogue, --set, the resolved dump."""

from __future__ import annotations

import json

import pytest
import yaml

import twin
from tests.helpers import BASELINE, network, station
from twin.scenario import ScenarioError, dump_resolved, load_scenario, parse_scenario, scenario_from_dict
from twin.scenario.schema import Scenario, instances


def test_baseline_describes_the_documented_hardware():
    sc = load_scenario(BASELINE)
    kinds = {}
    for cls, name, _, member in instances(sc.platform):
        kinds.setdefault(cls, []).append((name, member.hardware or "vm"))
    # docs/platform.md §1: 2 load balancers, 3 physical + 3 virtual frontends, 2 + 2 scanners, 1 central,
    # primary and replica store, 1 list server (VM), 6 ESX hosts.
    assert [h for _, h in kinds["load_balancer"]] == ["cisco-css-11503"] * 2
    assert [h for _, h in kinds["frontend"]] == ["sun-x4100-opteron-2.4"] * 3 + ["vm"] * 3
    assert [h for _, h in kinds["scanner"]] == ["sun-x4100-opteron-2.8"] * 2 + ["vm"] * 2
    assert [h for _, h in kinds["scan_central"]] == ["sun-x4100m2-opteron-2.8"]
    assert [h for _, h in kinds["store"]] == ["sun-x4100-opteron-2.6"]
    assert [h for _, h in kinds["replica"]] == ["sun-x4100-opteron-2.6"]
    assert [h for _, h in kinds["lists"]] == ["vm"]
    assert [h for _, h in kinds["esx"]] == ["hp-dl580-g5"] * 6
    assert sc.workload.inbound.volume == pytest.approx(1.4e6 / 86400)
    assert sc.workload.mailboxes.count == 17_500


def test_every_baseline_number_has_its_basis_noted():
    # Principle 1: a planner must see what is assumed. Every line of the baseline that sets a number
    # carries a comment (on the line, or in the comment block just above it).
    import re

    number = re.compile(r"(?<![\w.-])\d")  # a numeric value, not the digits inside a model name
    lines = BASELINE.read_text().splitlines()
    checked = 0
    for i, line in enumerate(lines):
        body = line.split("#")[0]
        if ":" in body and number.search(body.split(":", 1)[1]):
            checked += 1
            above = [prev.strip() for prev in lines[max(0, i - 8) : i]]
            assert "#" in line or any(a.startswith("#") for a in above), f"line {i + 1} has no basis: {line}"
    assert checked > 20


def test_defaults_are_filled_and_the_resolved_dump_loads_back_identically():
    sc = load_scenario(BASELINE)
    text = dump_resolved(sc, "baseline.yaml")
    again = parse_scenario(text, "resolved.yaml")
    assert again.model_dump() == sc.model_dump()
    data = yaml.safe_load(text)
    assert data["outputs"]["sample_interval"] == "1m"
    assert data["platform"]["frontend"]["demand"] == {"dist": "exponential", "mean": "8ms"}
    assert "hp-dl580-g5" in data["hardware"]["models"]  # the catalogue travels with the results


def test_naive_start_takes_the_scenario_time_zone():
    sc = scenario_from_dict(network({"s": station()}, []))
    assert sc.clock.t0.utcoffset().total_seconds() == 2 * 3600  # CEST on 2010-05-03


def test_set_overrides_any_field_including_dotted_model_names():
    sc = load_scenario(
        BASELINE,
        [
            "clock.horizon=2h",
            "platform.frontend.members[1].count=5",
            "hardware.models.sun-x4100-opteron-2.8.ghz=3.0",
            "workload.inbound.classes.spam.share=0.8",
            "workload.inbound.classes.ham.share=0.2",
        ],
    )
    assert sc.clock.horizon == 7200
    assert sc.platform.frontend.count == 8
    assert sc.hardware.models["sun-x4100-opteron-2.8"].ghz == 3.0
    assert sc.workload.inbound.classes["ham"].share == 0.2


def test_a_scenario_can_add_hardware_models():
    data = network({"s": station()}, [])
    data["hardware"] = {"models": {"x4600": {"sockets": 8, "cores_per_socket": 2, "ghz": 2.6}}}
    data["platform"]["frontend"] = {"members": [{"count": 1, "hardware": "x4600"}]}
    sc = scenario_from_dict(data)
    assert sc.hardware.models["x4600"].cores == 16
    assert "sun-x4100-opteron-2.4" in sc.hardware.models


def test_problems_are_all_reported_at_once():
    data = network(
        {"s": station()},
        [{"name": "a", "enter": "t", "rate": "1/s"}, {"name": "b", "enter": "u", "rate": "1/s"}],
    )
    with pytest.raises(ScenarioError) as exc:
        scenario_from_dict(data)
    assert [p.path for p in exc.value.problems] == ["workload.sources[0].enter", "workload.sources[1].enter"]


def test_every_optional_stage_can_be_switched_off():
    sc = load_scenario(
        BASELINE, ["platform.scanner.enabled=false", "platform.blocklist.enabled=false", "clock.horizon=5m"]
    )
    assert sc.platform.scanner.count == 0
    res = twin.simulate(sc, seed=1)
    led = res.ledger
    # No scan cluster: nothing is scanned, so no virus rejections, quarantine or scores; no blocklist
    # service: no blocklist rejections. Recipient checks still reject.
    assert (led["spam_score"] == -1).all()
    stages = set(led["stage"].astype(str))
    assert not stages & {"virus", "quarantine", "blocklist"}
    assert "unknown recipient" in stages and res.kpis["conservation_ok"]


def test_json_schema_describes_every_section():
    schema = Scenario.model_json_schema(by_alias=True)
    assert set(schema["properties"]) == {
        "meta",
        "clock",
        "hardware",
        "platform",
        "workload",
        "policies",
        "faults",
        "expect",
        "outputs",
    }
    assert schema["required"] == ["meta", "clock"]
    assert {"ExponentialDuration", "EmpiricalSize", "ConstantNumber"} <= set(schema["$defs"])
    assert not [name for name in schema["$defs"] if "locals" in name]
    json.dumps(schema)


def test_scenarios_pickle_for_worker_processes():
    import pickle

    sc = load_scenario(BASELINE)
    assert pickle.loads(pickle.dumps(sc)).model_dump() == sc.model_dump()


def test_fault_entries_are_checked():
    data = network({"s": station()}, [])
    data["faults"] = [
        {"kind": "outage", "target": "nothing*", "at": "10m", "duration": "5m"},
        {"kind": "outage", "target": "s", "at": "10m"},
        {"kind": "flood", "target": "s"},
        {"kind": "random", "target": "s", "mtbf": {"dist": "exponential", "mean": "1h"}},
    ]
    with pytest.raises(ScenarioError) as exc:
        twin.scenario_from_dict(data)
    assert [str(p) for p in exc.value.problems] == [
        "<dict>: faults[1]: give exactly one of 'duration' or 'until'",
        "<dict>: faults[2]: unknown kind 'flood' (expected one of: outage, degraded, loss, random)",
        "<dict>: faults[3].mttr: required field missing",
    ]
    data["faults"] = [data["faults"][0], {"kind": "outage", "target": "s", "at": "3h", "until": "4h"}]
    with pytest.raises(ScenarioError) as exc:
        twin.scenario_from_dict(data)
    assert [str(p) for p in exc.value.problems] == [
        "<dict>: faults[0].target: 'nothing*' matches no node, station or class",
        "<dict>: faults[1].at: starts after the end of the run (horizon + drain)",
    ]


def test_fault_targets_name_nodes_globs_or_classes():
    from twin.scenario.schema import match_nodes

    sc = load_scenario(BASELINE)
    assert match_nodes(sc, "frontend") == ["fe1", "fe2", "fe3", "fe4", "fe5", "fe6"]
    assert match_nodes(sc, "fe[12]") == ["fe1", "fe2"]
    assert match_nodes(sc, "esx3") == ["esx3"]
    assert match_nodes(sc, "scan*") == ["scan1", "scan2", "scan3", "scan4", "scan-central"]


def test_exim_and_sender_settings_are_checked_with_exims_own_syntax():
    data = network(
        {"s": station()}, [{"name": "a", "enter": "s", "rate": "1/s", "sender": {"retry": "G,5d,5m"}}]
    )
    data["policies"] = {"exim": {"delay_warning": "8h:4h", "retry": "* *"}}
    with pytest.raises(ScenarioError) as exc:
        twin.scenario_from_dict(data)
    assert [str(p) for p in exc.value.problems] == [
        "<dict>: workload.sources[0].sender.retry: rule 1 'G,5d,5m': a G rule needs a multiplier",
        "<dict>: policies.exim.retry: '* *': expected '<pattern> <error> <rules>' or just rules",
        "<dict>: policies.exim.delay_warning: "
        "delay_warning times must be positive and increase (got '8h:4h')",
    ]


def test_a_resolved_scenario_replays_the_same_run_across_a_dst_change():
    # 2010-10-31 03:00 CEST became 02:00 CET: the diurnal curve must follow local time in clock.timezone
    from twin.sim.ledger import fingerprint

    sets = ["clock.start=2010-10-30 00:00", "clock.horizon=2d", "clock.drain=0s"]
    sets += ["workload.inbound.volume=50k/day", "outputs.report=false"]
    sc = twin.load_scenario(BASELINE, sets)
    text = dump_resolved(sc)
    assert "start: '2010-10-30T00:00:00'" in text  # as the scenario gave it: naive, in clock.timezone
    again = parse_scenario(text, "scenario.resolved.yaml")
    a, b = twin.simulate(sc, seed=2), twin.simulate(again, seed=2)
    assert fingerprint(a.ledger) == fingerprint(b.ledger)
    assert str(b.timeseries["time"].dt.tz) == "Europe/Berlin"
    # the first local hour after the change is 02:00 CET = 01:00 UTC on 2010-10-31
    from twin.sim.calendar import Calendar

    cal = Calendar(sc.clock, sc.workload.inbound.weekday)
    assert cal.local_slot(86400 + 3 * 3600) == (6, 2)  # 27 h after Sat 00:00 CEST: Sun 02:00 CET
