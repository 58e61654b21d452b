"""Peak-hour utilisation per class (analysis/peak_hour.py, docs/calibration.md): each class's busiest hour
for its CPU and its disk, beside its hardware, in kpis.json and the report."""

from __future__ import annotations

import pandas as pd
import pytest

import twin
from tests.helpers import BASELINE, network, simulate, station

# An evening of a small university, across the start of the nightly backup at 20:00 (seed §2).
EVENING = [
    "clock.start=2010-05-03 18:00",
    "clock.horizon=4h",
    "clock.drain=10m",
    "workload.mailboxes.count=2000",
    "workload.inbound.volume=160k/day",
]


@pytest.fixture(scope="module")
def evening(tmp_path_factory):
    res = twin.simulate(twin.load_scenario(BASELINE, EVENING), seed=3)
    out = tmp_path_factory.mktemp("evening")
    res.save(out)
    return res, out


def test_each_class_has_its_busiest_hour_beside_its_hardware(evening):
    res, _ = evening
    peak, comps, ts = res.kpis["peak_hour"], res.kpis["components"], res.timeseries
    assert {"frontend", "scanner", "store", "ldap"} <= set(peak)
    for kind, p in peak.items():
        members = [c for c in comps.values() if c["kind"] == kind]
        assert p["instances"] == len(members) == ts[ts.kind == kind]["component"].nunique()
        assert p["cpu_servers"] == sum(c["servers"] for c in members)
        for column, block in (("utilisation", p["cpu"]), ("disk_utilisation", p["disk"])):
            if block is None:
                continue
            # the hour's mean: at least the mean over the hours, at most the busiest minute of any instance
            assert block["mean"] <= block["utilisation"] + 1e-12
            assert block["utilisation"] <= block["busiest_instance"] + 1e-12
            assert block["busiest_instance"] <= ts[ts.kind == kind][column].max() + 1e-12
            hour = pd.Timestamp(block["hour"])
            assert hour.minute == 0 and 18 <= hour.hour <= 21  # within the horizon, not the drain


def test_the_stores_disk_is_busiest_in_the_backup_and_its_cpu_is_not(evening):
    res, _ = evening
    store = res.kpis["peak_hour"]["store"]
    assert pd.Timestamp(store["disk"]["hour"]).hour >= 20  # the backup starts at 20:00
    assert store["disk"]["utilisation"] > 10 * store["cpu"]["utilisation"]


def test_the_report_shows_the_table(evening):
    _, out = evening
    html = (out / "report.html").read_text()
    assert "Peak hour per class, beside the hardware" in html
    assert "sun-x4100-opteron-2.6" in html


def test_generic_stations_are_classes_of_their_own():
    # two stations in tandem, one at rho = 0.8 and one at rho = 0.2 (M/M/1, 3 h): each its own class
    data = network(
        {"busy": station(1, "0.8s", routing={"light": 1.0}), "light": station(1, "0.2s")},
        [{"name": "a", "enter": "busy", "rate": "1/s"}],
        horizon="3h",
    )
    peak = simulate(data).kpis["peak_hour"]
    assert set(peak) == {"busy", "light"}
    assert peak["busy"]["instances"] == peak["light"]["instances"] == 1
    # over 3,600 customers an hour the hour's mean is within a few % of rho (the busiest of three hours)
    assert peak["busy"]["cpu"]["utilisation"] == pytest.approx(0.8, abs=0.08)
    assert peak["light"]["cpu"]["utilisation"] == pytest.approx(0.2, abs=0.04)
    assert peak["busy"]["disk"] is None
