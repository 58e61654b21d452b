"""Dependencies act (topology.DEPENDENCIES): each ``depends_on`` edge does what the table says while no
instance of the dependency can be reached, and only then. The effects at connect, RCPT and the scan are
pinned in tests/test_stages.py; the table names the test of each."""

from __future__ import annotations

import re

import pytest

import twin
from tests.helpers import BASELINE, ROOT, outage, simulate
from tests.mail import mail_platform
from twin.cli import main
from twin.topology import DEPENDENCIES, Dependency, build_topology, dependencies

H, M = 3600.0, 60.0


def spool_total(res):
    ts = res.timeseries
    return ts[ts["kind"] == "frontend"].groupby("t")["spool_messages"].sum()


@pytest.fixture(scope="module")
def san_hour():
    """The baseline from midnight for 3 h, once without faults and once with the SAN down 01:00-02:00."""

    def run(faults):
        sc = twin.load_scenario(BASELINE, ["clock.horizon=3h", "clock.drain=30m", f"faults={faults}"])
        return twin.simulate(sc, seed=3)

    return run("[]"), run("[{kind: outage, target: san, at: 1h, duration: 1h}]")


def test_a_san_outage_stops_deliveries_and_the_spools_drain_after(san_hour):
    base, san = san_hour
    led = san.ledger
    delivered = led[(led["state"] == "delivered") & led["node"].isin(["store", "store-replica"])]  # mailboxes
    # The mailbox metadata is on the SAN (seed §2): not one delivery while it is down ...
    assert not ((delivered["t_final"] > H) & (delivered["t_final"] < 2 * H)).any()
    assert san.kpis["lmtp_replies"]["store"]["451"] > 1000
    # ... the mail waits on the frontends' spools instead (the fault-free run keeps ~100 there, the
    # messages for full mailboxes) ...
    before, during = spool_total(base), spool_total(san)
    assert during.loc[2 * H - M] > 30 * before.loc[2 * H - M]
    # ... and drains after: by the end the spools hold what the fault-free run holds, within a few
    # messages (the per-address retry records make some of them wait for a later retry time, and those
    # for a mailbox locked at its quota meanwhile bounce at whichever attempt comes first: 161 against
    # 149 with seed 3).
    assert abs(during.iloc[-1] - before.iloc[-1]) <= 20
    # Nothing is lost: the same number of recipients is delivered, within what the changed timing moves
    # across the end of the run or onto a mailbox that has just become full.
    assert san.kpis["recipients"]["delivered"] == pytest.approx(base.kpis["recipients"]["delivered"], abs=20)
    assert san.kpis["conservation_ok"]


def test_one_of_three_ldap_servers_down_changes_nothing_all_three_give_4xx():
    def refused(target):
        data = mail_platform(horizon="20m", faults=[outage(target, "5m", "5m")])
        data["platform"]["ldap"]["members"] = [{"count": 3, "hardware": "imt-service-host"}]
        led = simulate(data).ledger
        return (led["stage"] == "ldap unreachable").sum(), len(led)

    one, offered = refused("ldap2")
    assert one == 0 and offered > 400
    everyone, _ = refused("ldap")
    assert everyone > 100


def test_the_san_fails_the_store_only_when_every_path_is_down():
    data = mail_platform(horizon="20m", faults=[outage("san1", "5m", "10m")])
    data["platform"]["san"]["members"] = [{"count": 2, "hardware": "iscsi-san"}]  # two redundant paths
    res = simulate(data)
    assert res.kpis["lmtp_replies"]["store"]["451"] == 0
    data["faults"] = [outage("san", "5m", "10m")]
    assert simulate(data).kpis["lmtp_replies"]["store"]["451"] > 0


def test_a_kdc_outage_says_which_of_its_effects_are_modelled(capsys):
    sc = twin.load_scenario(
        BASELINE, ["clock.horizon=10m", "faults=[{kind: outage, target: kdc, at: 0s, until: 1h}]"]
    )
    res = twin.simulate(sc, seed=1)
    (incident,) = res.kpis["incidents"]
    effects = {d["class"]: d["modelled"] for d in incident["dependents"]}
    assert effects == {"frontend": True, "store": True}  # submission logins, IMAP/POP logins
    # ... and so do the topology listing and the report (tests/test_cli.py).
    assert main(["topology", str(BASELINE)]) == 0
    listed = {
        line.split(":")[0].strip(): line for line in capsys.readouterr().out.splitlines() if "->" in line
    }
    assert "kdc unreachable" in listed["store -> kdc"]
    assert not any("not modelled" in line for line in listed.values())
    # an effect the model does not simulate yet says so, and what it lacks
    assert Dependency("a", "b", "x", False, missing="no y").note == "not modelled yet: no y"


def test_every_dependency_of_the_baseline_is_in_the_table_with_its_effect():
    g = build_topology(twin.load_scenario(BASELINE))
    deps = dependencies(g)
    assert {(d.dependent, d.on) for d in deps} == {
        (g.nodes[u]["kind"], g.nodes[v]["kind"]) for u, v, k in g.edges(keys=True) if k == "depends_on"
    }
    for _, _, k, attrs in g.edges(keys=True, data=True):
        if k == "depends_on":
            assert attrs["effect"] and isinstance(attrs["modelled"], bool)


@pytest.mark.parametrize(
    "dep", [d for d in DEPENDENCIES if d.modelled], ids=lambda d: f"{d.dependent}->{d.on}"
)
def test_each_modelled_dependency_names_a_test_that_exists(dep):
    path, name = dep.test.split("::")
    assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), dep.test
