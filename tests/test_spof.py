"""Single points of failure (`mailtwin spof`, topology.single_points_of_failure, experiments/spof.py):
found from the graph, confirmed by a simulated outage, named in the report."""

from __future__ import annotations

import json

import pytest

import twin
from tests.helpers import BASELINE
from twin.cli import main
from twin.topology import build_topology, single_points_of_failure

INBOUND = ["inbound-ham", "inbound-spam"]


def points(*overrides: str) -> dict:
    g = build_topology(twin.load_scenario(BASELINE, list(overrides)))
    return {p.node: p for p in single_points_of_failure(g, INBOUND)}


def test_the_baseline_has_four_single_points_from_the_graph():
    # redundant: 2 balancers, 6 frontends, 4 scanners, 3 LDAP servers, 6 ESX hosts each with one VM of a
    # redundant class; single: the blocklist service, the central scan server, the store, the SAN
    found = points()
    assert list(found) == ["dnsbl", "scan-central", "store", "san"]
    assert found["store"].breaks == ("inbound-ham", "inbound-spam", "attachment_notice")
    assert found["dnsbl"].routes == ("inbound mail to the mailboxes",)
    assert "4xx at connect" in found["dnsbl"].effect


def test_a_lone_balancer_and_a_host_with_every_frontend_are_single_points():
    found = points(
        "platform.load_balancer.members[0].count=1",
        "platform.frontend.members=[{count: 2, vm: {vcpus: 2, hosts: [esx1]}}]",
    )
    assert "lb" in found and "no load_balancer left" in found["lb"].effect
    host = found["esx1"]
    assert host.down[0] == "esx1" and {"fe1", "fe2"} <= set(host.down)
    assert "bounce" in host.breaks and len(host.routes) == 3 and "no frontend left" in host.effect
    assert "fe1" not in found  # two frontends: each alone is still spare for the other


def test_spof_confirms_each_candidate_by_its_measured_effect(capsys):
    assert main(["spof", str(BASELINE), "--at", "30m", "--duration", "1h", "--json"]) == 0
    found = {p["node"]: p for p in json.loads(capsys.readouterr().out)}
    assert set(found) == {"dnsbl", "scan-central", "store", "san"}
    for name in ("dnsbl", "store", "san"):
        assert found[name]["confirmed"] is True, found[name]["effect"]
    assert found["dnsbl"]["measured"]["refused"] > 1000
    assert found["store"]["measured"]["spooled_peak"] > 100
    # an hour is within the scanners' 2-hour grace: the graph's candidate shows no break in that time
    assert found["scan-central"]["confirmed"] is False
    assert found["scan-central"]["effect"].startswith("no break measured")
    assert set(found["store"]) >= {"node", "breaks", "confirmed", "effect"}


def test_the_report_names_the_single_points_of_failure(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(BASELINE), "--set", "clock.horizon=10m", "--out", str(out)]) == 0
    html = (out / "report.html").read_text()
    section = html[html.index("Single points of failure") :]
    for node in ("dnsbl", "scan-central", "store", "san"):
        assert f"<td>{node}</td>" in section


def test_bad_input_is_exit_2(capsys):
    assert main(["spof", "nowhere.yaml"]) == 2
    assert "nowhere.yaml: cannot read file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["spof", str(BASELINE), "--at=0s"])
    assert exc.value.code == 2 and "--at: must be a duration" in capsys.readouterr().err
