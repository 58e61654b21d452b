"""VMware HA for the ESX cluster (twin/sim/faults.py): after a host fails, its VMs start again on the
surviving hosts after ``restart_delay`` if admission control (``vms_per_host``) leaves room; without HA
they stay down until their host is back."""

from __future__ import annotations

import twin
from tests.helpers import BASELINE

HOST_DOWN = "faults=[{kind: outage, target: esx1, at: 10m, duration: 1h}]"


def incidents(*overrides: str) -> dict[str, dict]:
    sc = twin.load_scenario(BASELINE, ["clock.horizon=90m", "clock.drain=10m", *overrides])
    k = twin.simulate(sc, seed=1).kpis
    assert k["conservation_ok"]
    return {i["target"]: i for i in k["incidents"]}


def test_without_ha_the_vms_wait_for_their_host():
    inc = incidents("platform.esx.ha=false", HOST_DOWN)
    assert inc["fe4"]["duration_s"] == 3600 and inc["fe4"]["restarted_on"] is None


def test_with_ha_the_vms_run_again_on_another_host_after_the_restart_delay():
    inc = incidents("platform.esx.ha=true", "platform.esx.restart_delay=2m", HOST_DOWN)
    fe4 = inc["fe4"]
    assert fe4["duration_s"] == 120 and fe4["restarted_on"] not in (None, "esx1")
    assert inc["esx1"]["duration_s"] == 3600


def test_admission_control_keeps_a_vm_down_when_no_host_has_room():
    # one VM per host: every surviving host is full (each runs one VM already), so nothing restarts
    inc = incidents("platform.esx.ha=true", "platform.esx.vms_per_host=1", HOST_DOWN)
    assert inc["fe4"]["duration_s"] == 3600 and inc["fe4"]["restarted_on"] is None


def test_a_restarted_vm_no_longer_fails_with_its_old_host():
    sc = twin.load_scenario(
        BASELINE,
        [
            "clock.horizon=90m",
            "platform.esx.ha=true",
            "faults=[{kind: outage, target: esx1, at: 10m, duration: 10m},"
            " {kind: outage, target: esx1, at: 40m, duration: 10m}]",
        ],
    )
    k = twin.simulate(sc, seed=1).kpis
    assert [i["target"] for i in k["incidents"]].count("fe4") == 1  # esx1's second failure spares it
