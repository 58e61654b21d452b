"""The store replica: rolling replication with its lag and backlog, the manual switch-over, failback, the
fate of unreplicated mail in an ``outage`` and a ``loss``, and the replica's own outage
(twin/components/replica.py, docs/failover.md)."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.helpers import BASELINE

# Short runs of the baseline; the drain lets the spools empty after the failure.
SHORT = ["clock.horizon=2h", "clock.drain=2h"]


def run(*overrides: str, seed: int = 1):
    return twin.simulate(twin.load_scenario(BASELINE, [*SHORT, *overrides]), seed=seed)


@pytest.fixture(scope="module")
def calm():
    return run()


def test_the_lag_follows_from_the_sync_client_runs(calm):
    # sync_client runs every I ~ U(3 min, 5 min) (baseline). A message waits for the next run: the
    # residual life R of I, with P(R > r) = E[(I - r)+] / E[I]; for r <= 3 min that is (4 min - r) / 4 min,
    # so the median wait is 2 min = 120 s, and no wait exceeds 5 min. The run then applies about 1,000
    # messages one after another on the replica's disk (8 ms each): the lag adds up to ~10 s of that, a
    # few seconds at the median. Over 2 h (~30 runs, ~20,000 messages) the median lies within 10 % of
    # 120 s + the apply time (seeds 1-3 gave 120-124 s).
    rep = calm.kpis["replication"]
    assert rep["replicated"] > 5_000
    assert 240 <= rep["lag_max_s"] <= 300 + 30
    assert rep["lag_p50_s"] == pytest.approx(122, rel=0.1)
    assert rep["lost"] == 0 and rep["switchovers"] == 0 and rep["serving"] == "store"


def test_the_backlog_is_a_gauge_that_empties_at_each_run(calm):
    ts = calm.timeseries
    store = ts[ts["component"] == "store"]
    backlog = store["replication_backlog_messages"].to_numpy()
    age = store["replication_backlog_age_s"].to_numpy()
    assert backlog.max() > 0 and (backlog == 0).any()
    assert age.max() <= 300 + 30  # never older than a run interval and the apply time
    assert calm.kpis["replication"]["backlog_peak_messages"] >= backlog.max()
    # only the serving store holds the log
    replica = ts[ts["component"] == "store-replica"]
    assert (replica["replication_backlog_messages"] == 0).all()


def test_an_outage_shorter_than_the_switchover_defers_and_loses_nothing():
    res = run("faults=[{kind: outage, target: store, at: 30m, duration: 20m}]")
    k = res.kpis
    (inc,) = k["incidents"]
    assert k["replication"]["switchovers"] == 0
    assert k["recipients"]["lost"] == 0 and k["conservation_ok"]
    assert inc["rpo_messages"] > 0 and 0 < inc["rpo_s"] <= 305
    # the first delivery after the failure comes after the primary is back, at a queue run or a retry
    assert inc["rto_s"] >= 20 * 60
    assert inc["spooled_peak"] > 100 and inc["time_to_drain_s"] is not None
    led = res.ledger
    assert not (led["node"] == "store-replica").any()  # nobody switched over


def test_a_long_outage_switches_over_to_the_replica_and_fails_back():
    res = run("faults=[{kind: outage, target: store, at: 30m, duration: 60m}]")
    k = res.kpis
    rep, (inc,) = k["replication"], k["incidents"]
    assert (rep["switchovers"], rep["failbacks"], rep["serving"]) == (1, 1, "store")
    # switch-over after 30 min (baseline): the first delivery after the failure is the replica's
    assert 30 * 60 <= inc["rto_s"] < 30 * 60 + 60
    led = res.ledger
    at_replica = led[(led["node"] == "store-replica") & (led["state"] == "delivered")]
    assert len(at_replica) > 100
    assert at_replica["t_final"].min() >= 3600 and at_replica["t_final"].max() < 90 * 60 + 2 * 3600
    # outage: the old primary comes back with its disks, its unreplicated mail is recovered
    assert rep["lost"] == 0 and k["recipients"]["lost"] == 0 and rep["recovered"] >= inc["rpo_messages"]
    assert k["conservation_ok"]


def test_a_loss_of_the_primary_loses_exactly_what_was_not_replicated():
    res = run("faults=[{kind: loss, target: store, at: 30m, duration: 60m}]")
    k = res.kpis
    rep, (inc,) = k["replication"], k["incidents"]
    assert inc["loss"] and inc["rpo_messages"] > 0
    led = res.ledger
    lost = led[led["state"] == "lost"]
    assert len(lost) == inc["lost"] == rep["lost"] == k["recipients"]["lost"] > 0
    assert set(lost["stage"]) == {"unreplicated"} and set(lost["node"]) == {"store"}
    assert (lost["t_final"] == 1800).all()
    # what was lost had been delivered within one sync interval before the failure
    assert lost["t_accepted"].max() < 1800 and lost["t_accepted"].min() > 1800 - 305 - 3600
    assert len(np.unique(lost["msg_id"])) == inc["rpo_messages"]
    # the empty primary needs a full resync (12 h) before failback: the replica still serves at the end
    assert rep["serving"] == "store-replica" and rep["failbacks"] == 0
    assert k["conservation_ok"]


def test_without_a_switchover_the_mail_waits_for_the_primary():
    res = run(
        "platform.replica.switchover=null", "faults=[{kind: outage, target: store, at: 30m, duration: 60m}]"
    )
    k = res.kpis
    assert k["replication"]["switchovers"] == 0
    assert k["incidents"][0]["rto_s"] >= 3600


def test_the_replica_down_makes_the_backlog_grow_and_catch_up():
    res = run("faults=[{kind: outage, target: store-replica, at: 20m, duration: 60m}]")
    ts = res.timeseries
    store = ts[ts["component"] == "store"].set_index("t")
    during = store.loc[75 * 60 : 80 * 60]
    assert during["replication_backlog_messages"].min() > 1000
    assert during["replication_backlog_age_s"].max() >= 55 * 60
    after = store.loc[100 * 60 :]
    assert (after["replication_backlog_messages"] == 0).any()  # caught up
    k = res.kpis
    assert k["replication"]["lag_max_s"] >= 60 * 60 and k["recipients"]["lost"] == 0
    (inc,) = k["incidents"]
    assert inc["rpo_messages"] is None  # not the serving store: nothing at risk from its failure


def test_the_replica_without_its_san_stops_replication_and_catches_up():
    res = run(
        "platform.store.metadata_ops=0",  # the primary keeps delivering (its metadata elsewhere)
        "faults=[{kind: outage, target: san, at: 20m, duration: 30m}]",
    )
    ts = res.timeseries
    store = ts[ts["component"] == "store"].set_index("t")
    assert store.loc[45 * 60 : 50 * 60]["replication_backlog_age_s"].max() >= 25 * 60
    assert (store.loc[60 * 60 :]["replication_backlog_messages"] == 0).any()


def test_a_frontend_loss_loses_its_spool():
    res = run(
        "faults=[{kind: outage, target: store, at: 20m, duration: 20m},"
        " {kind: loss, target: fe1, at: 35m, duration: 10m}]"
    )
    k = res.kpis
    fe1 = next(i for i in k["incidents"] if i["target"] == "fe1")
    led = res.ledger
    lost = led[led["state"] == "lost"]
    assert fe1["loss"] and fe1["lost"] == len(lost) > 0
    assert set(lost["stage"]) == {"spool lost"} and set(lost["node"]) == {"fe1"}
    assert k["queues"]["fe1"]["lost"] == len(lost) and k["conservation_ok"]


def test_a_loss_fault_is_validated_like_an_outage(capsys):
    from twin.cli import main

    fault = "faults=[{kind: loss, target: store, at: 5m}]"
    assert main(["validate", str(BASELINE), "--set", fault]) == 2
    assert "faults[0]" in capsys.readouterr().err
