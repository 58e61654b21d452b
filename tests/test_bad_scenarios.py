"""Malformed scenario files: each gets its exact message (FILE:LINE: field.path: what) and exit code 2,
and a run of a bad file writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.cli import main

BAD = Path(__file__).parent / "data" / "bad"
KNOWN_MODELS = (
    "cisco-css-11503, hp-dl580-g5, hp-msa1000, imt-service-host, iscsi-san, sun-storedge-3510, "
    "sun-x4100-opteron-2.4, sun-x4100-opteron-2.6, sun-x4100-opteron-2.8, sun-x4100m2-opteron-2.8"
)

EXPECTED = {
    "unknown_field": [
        "2: clock.horizon: required field missing",
        "4: clock.horizn: unknown field (expected one of: start, timezone, horizon, drain, warmup)",
    ],
    "bad_duration": [
        "4: clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '5 parsecs')"
    ],
    "missing_meta": ["1: meta: required field missing"],
    "inbound_without_store": [
        "7: workload.inbound: inbound mail needs store instances (platform.store.members): it is accepted "
        "by the frontends and delivered to the store"
    ],
    "zero_servers": ["6: platform.stations.s1.servers: must be greater than or equal to 1 (got 0)"],
    "unknown_dist": [
        "6: platform.stations.s1.service: unknown dist 'weibull' "
        "(expected one of: constant, exponential, lognormal, empirical)"
    ],
    "unknown_hardware": [
        f"7: platform.frontend.members[0].hardware: unknown hardware model 'sun-x9999' (known: {KNOWN_MODELS})"
    ],
    "routing_over_one": ["7: platform.stations.s1.routing: probabilities sum to 1.2, more than 1"],
    "unknown_target": ["9: workload.sources[0].enter: unknown target 'nowhere' (expected one of: s1)"],
    "bad_rate": [
        "10: workload.sources[0].rate: expected a rate such as 2/s, 30/min, 500/h or 1.4M/day (got 'fast')"
    ],
    "yaml_syntax": ["2: YAML syntax error: expected ',' or '}', but got ':'"],
    "duplicate_key": ["3: clock: duplicate key"],
    "bad_timezone": [
        "4: clock.timezone: unknown time zone 'Mars/Olympus_Mons' (expected an IANA name such as Europe/Berlin)"
    ],
    "vm_without_esx": [
        "7: platform.lists.members[0].vm: a virtual server needs ESX hosts (platform.esx.members)"
    ],
    "instant_loop": [
        "6: platform.frontend.routing: routing loop through components that take no time: frontend -> lists -> frontend"
    ],
    "bad_quantiles": [
        "11: workload.sources[0].size: quantiles must start at probability 0 and end at 1 (got 0.1 .. 1.0)"
    ],
    "not_a_mapping": ["1: a scenario file must be a mapping of sections"],
    "unknown_served_class": [
        "6: platform.load_balancer.serves[1]: unknown class 'frontends' behind the balancer (expected one of: "
        "blocklist, frontend, scanner, scan_central, store, replica, san, lists, ldap, kdc, internal, esx)"
    ],
    "several_problems": [
        "2: clock.horizon: must be greater than 0 (got '-1h')",
        "6: platform.stations.s1.servers: expected a whole number (got 'many')",
        "8: outputs.sample_interval: must be greater than 0 (got '0s')",
    ],
}


def test_every_bad_file_has_an_expectation():
    assert {p.stem for p in BAD.glob("*.yaml")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_reports_file_line_field_and_exits_2(name, capsys):
    path = BAD / f"{name}.yaml"
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [f"{path}:{line}" for line in EXPECTED[name]]


@pytest.mark.parametrize("name", ["unknown_hardware", "yaml_syntax", "several_problems"])
def test_run_of_a_bad_file_writes_nothing(name, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(BAD / f"{name}.yaml"), "--out", str(out)]) == 2
    assert not out.exists()
    assert capsys.readouterr().err.startswith(str(BAD / f"{name}.yaml"))


def test_missing_file_is_bad_input(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["validate", str(missing)]) == 2
    assert capsys.readouterr().err == f"{missing}: cannot read file: No such file or directory\n"


def test_bad_override_names_the_set_argument(capsys):
    base = Path(__file__).parent.parent / "scenarios" / "baseline.yaml"
    assert main(["validate", str(base), "--set", "platform.frontend.servers=lots"]) == 2
    assert capsys.readouterr().err == (
        "--set platform.frontend.servers=lots: platform.frontend.servers: expected a whole number (got 'lots')\n"
    )


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
    assert "the following arguments are required: scenario" in capsys.readouterr().err
