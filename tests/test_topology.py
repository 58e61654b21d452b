"""The topology graph of the documented platform."""

from __future__ import annotations

from tests.helpers import BASELINE, network, station
from twin.scenario import load_scenario, scenario_from_dict
from twin.topology import build_topology, draw_topology, members_of


def _edges(g, kind):
    return {(u, v) for u, v, k in g.edges(keys=True) if k == kind}


def test_one_node_per_instance_with_hardware_and_placement():
    g = build_topology(load_scenario(BASELINE))
    assert members_of(g, "frontend") == ["fe1", "fe2", "fe3", "fe4", "fe5", "fe6"]
    assert [g.nodes[n]["physical"] for n in members_of(g, "frontend")] == [True] * 3 + [False] * 3
    assert members_of(g, "esx") == [f"esx{i}" for i in range(1, 7)]
    assert members_of(g, "load_balancer") == ["lb1", "lb2"]
    assert {"internet", "scan-central", "store", "store-replica", "san", "kdc", "lists", "internal"} <= set(g)
    assert len(members_of(g, "ldap")) == 3
    fe1 = g.nodes["fe1"]
    assert (fe1["cores"], fe1["speed"]) == (4, 1.0)  # the reference core
    scan1 = g.nodes["scan1"]
    assert scan1["speed"] == 2.8 / 2.4  # same generation, faster clock


def test_virtual_servers_run_on_esx_hosts_spread_in_order():
    g = build_topology(load_scenario(BASELINE))
    runs_on = _edges(g, "runs_on")
    assert runs_on == {
        ("fe4", "esx1"),
        ("fe5", "esx2"),
        ("fe6", "esx3"),
        ("scan3", "esx4"),
        ("scan4", "esx5"),
        ("lists", "esx6"),
    }
    assert g.nodes["fe4"]["cores"] == 2  # vCPUs, not the host's 16 cores


def test_documented_dependencies_and_links():
    g = build_topology(load_scenario(BASELINE))
    deps = _edges(g, "depends_on")
    assert {
        ("fe1", "ldap1"),
        ("fe6", "ldap3"),
        ("scan1", "scan-central"),
        ("store", "san"),
        ("fe2", "kdc"),
    } <= deps
    links = _edges(g, "link")
    assert {("internet", "lb1"), ("lb2", "fe3"), ("fe1", "store"), ("store", "store-replica")} <= links
    assert g.edges["internet", "lb1", "link"]["latency"] == 0.03
    assert g.edges["fe1", "store", "link"]["latency"] == 0.0002


def test_vm_hosts_can_be_pinned():
    data = network({}, [])
    data["platform"] = {
        "esx": {"members": [{"count": 2, "hardware": "hp-dl580-g5"}]},
        "frontend": {"members": [{"count": 3, "vm": {"vcpus": 1, "hosts": ["esx2"]}}]},
    }
    g = build_topology(scenario_from_dict(data))
    assert _edges(g, "runs_on") == {("fe1", "esx2"), ("fe2", "esx2"), ("fe3", "esx2")}


def test_station_routing_becomes_links_with_probabilities():
    data = network({"a": station(routing={"b": 0.4}), "b": station()}, [])
    g = build_topology(scenario_from_dict(data))
    assert g.edges["a", "b", "link"]["p"] == 0.4


def test_drawing_writes_a_png(tmp_path):
    g = build_topology(load_scenario(BASELINE))
    out = tmp_path / "topo.png"
    draw_topology(g, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_components_are_given_their_neighbours_from_the_graph():
    from twin.model import Model

    model = Model(load_scenario(BASELINE), seed=1)
    fe4 = model.components["fe4"]
    scanners = ["scan1", "scan2", "scan3", "scan4"]
    assert fe4.links["store"] == 0.0002 and fe4.links["internet"] == 0.03
    assert set(fe4.depends_on) == {"ldap1", "ldap2", "ldap3", "kdc", "dnsbl", "store", *scanners}
    assert model.components["scan2"].depends_on == ["scan-central"]
    # Peers are found through the graph: the scanners through the balancer's virtual address.
    groups = model.groups
    assert fe4.peer("scanner") is groups["scanner"] and fe4.peer("ldap") is groups["ldap"]
    assert fe4.peer("internet") is groups["internet"] and fe4.peer("replica") is None
    assert model.components["store"].peer("san") is groups["san"]
