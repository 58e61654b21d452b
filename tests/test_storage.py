"""Storage capacity (components/store.py, components/san.py, docs/storage.md): the arrays hold the
mailboxes' usage and their metadata, and the run says how many days of growth are left."""

from __future__ import annotations

import pytest

import twin
from tests.helpers import BASELINE
from twin.model import Model

# A working morning of a small university: deliveries and the users' sessions (which delete) both change
# the mailboxes.
MORNING = [
    "clock.start=2010-05-03 08:00",
    "clock.horizon=3h",
    "clock.drain=10m",
    "workload.mailboxes.count=2000",
    "workload.inbound.volume=160k/day",
    "outputs.report=false",
]


def test_the_running_total_is_the_sum_of_the_mailboxes():
    model = Model(twin.load_scenario(BASELINE, MORNING), seed=2)
    boxes = model.ctx.mailboxes
    start = boxes.usage_total
    assert start == pytest.approx(sum(boxes.usage), rel=1e-12)
    model.run()
    assert boxes.usage_total != start  # deliveries and deletions moved it
    assert boxes.usage_total == pytest.approx(sum(boxes.usage), rel=1e-9)


def test_each_array_reports_its_filling_and_the_days_left_at_the_runs_rate():
    res = twin.simulate(twin.load_scenario(BASELINE, MORNING), seed=2)
    sc = res.scenario
    span = sc.clock.horizon + sc.clock.drain
    st = res.kpis["storage"]
    store, replica, san = st["store"], st["store-replica"], st["san"]
    assert store["capacity_bytes"] == sc.platform.store.disk.capacity
    assert replica["capacity_bytes"] == sc.platform.replica.disk.capacity
    assert store["used_bytes"] == replica["used_bytes"]  # one population: the replica holds a copy
    growth = store["used_bytes"] - store["used_start_bytes"]
    assert store["growth_bytes_per_day"] == pytest.approx(growth / span * 86400)
    if growth > 0:
        assert store["days_left"] == pytest.approx(
            (store["capacity_bytes"] - store["used_bytes"]) / store["growth_bytes_per_day"]
        )
    # the SAN: the metadata of both stores, a share of the mail
    share = sc.platform.san.metadata_share
    assert san["used_bytes"] == pytest.approx(2 * share * store["used_bytes"])
    assert san["used_start_bytes"] == pytest.approx(2 * share * store["used_start_bytes"])
    # the time series ends where the KPIs do
    ts = res.timeseries
    last = ts[ts.component == "store"]["mailbox_bytes"].iloc[-1]
    assert last == pytest.approx(store["used_bytes"], abs=1)


def test_days_left_is_null_without_growth_or_capacity():
    from twin.components.server import filling

    assert filling(None, 10.0, 20.0, 86400)["days_left"] is None
    assert filling(100.0, 20.0, 10.0, 86400)["days_left"] is None  # shrinking
    f = filling(100.0, 10.0, 20.0, 86400)
    assert f["growth_bytes_per_day"] == 10.0 and f["days_left"] == 8.0 and f["used_share"] == 0.2
