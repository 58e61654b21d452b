"""The nightly TSM backup (components/backup.py, docs/backup.md): it examines every message file and sends
the new ones, shares the store's disks with LMTP and the users' commands, is missed or fails with what it
needs, and keeps deleted mail for its retention."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.helpers import BASELINE

# A small university over one night: 1,000 mailboxes (~2.2 million message files), a twentieth of the
# mail, from Monday 18:00 to Tuesday 12:00; the backup starts at 20:00.
NIGHT = [
    "clock.start=2010-05-03 18:00",
    "clock.horizon=18h",
    "clock.drain=0s",
    "workload.mailboxes.count=1000",
    "workload.inbound.volume=70k/day",
    "workload.lists.enabled=false",
    "outputs.report=false",
]


def run(overrides=(), seed=1):
    return twin.simulate(twin.load_scenario(BASELINE, [*NIGHT, *overrides]), seed=seed)


def down(target: str, at: str, duration: str) -> str:
    return f"faults=[{{kind: outage, target: {target}, at: {at}, duration: {duration}}}]"


def night(res, k=0):
    return res.kpis["backup"]["tsm"]["nights"][k]


def test_a_night_examines_every_file_and_sends_what_came_since_the_last_backup():
    res = run()
    n = night(res)
    assert n["status"] == "completed" and n["start_s"] == 2 * 3600  # 20:00 local
    from twin.model import Model

    sc = twin.load_scenario(BASELINE, NIGHT)
    files0 = sum(Model(sc, seed=1).ctx.mailboxes.messages)
    # every message file (those at the start, plus the day's deliveries less the deletions) and 3
    # metadata files per mailbox on the SAN
    assert n["files"] - 3 * 1000 == pytest.approx(files0, rel=0.02)
    assert n["examined"] == n["files"]
    # At the start the backup holds every mailbox: what it sends came in the two hours before 20:00.
    delivered = res.kpis["lmtp_replies"]["store"]["250"]
    assert 0 < n["new_files"] < delivered
    spec = sc.platform.backup
    alone = (n["files"] - 3 * 1000) / spec.examine_rate + n["new_bytes"] / spec.read_rate
    # The users and LMTP take a little of the disks (a twentieth of the mail, in the evening).
    assert alone < n["duration_s"] < 1.1 * alone
    assert n["disk_utilisation"] > 0.95  # 4 requests outstanding on the 4-way array


def test_the_store_disk_is_busier_while_the_backup_runs_and_its_users_wait_for_it():
    on = run()
    off = run(["platform.backup.enabled=false"])
    ts = on.timeseries
    disk = ts[ts.component == "store"].set_index("t")["disk_utilisation"]
    n = night(on)
    during = disk[(disk.index > n["start_s"] + 600) & (disk.index <= n["end_s"])]
    after = disk[disk.index > n["end_s"] + 600]
    assert during.min() > 0.9 and after.max() < 0.3
    lmtp = on.kpis["lmtp_latency"]["store"]
    assert lmtp["during_backup"]["count"] > 0 and lmtp["outside_backup"]["count"] > 0
    # The same mail and sessions (common random numbers: the backup draws nothing), with and without it.
    assert off.kpis["lmtp_replies"] == on.kpis["lmtp_replies"]
    imap_on = on.kpis["clients"]["imap"]["commands"]["mean_s"]
    imap_off = off.kpis["clients"]["imap"]["commands"]["mean_s"]
    assert imap_on > imap_off
    assert (
        on.kpis["lmtp_latency"]["store"]["all"]["mean_s"] > off.kpis["lmtp_latency"]["store"]["all"]["mean_s"]
    )


def test_a_slower_backup_overruns_the_window_and_the_morning_waits_for_it():
    # 40 files/s instead of 2,000: ~2.2 million files take ~15 h, so it runs until about 11:00.
    slow = run(["platform.backup.examine_rate=40/s"])
    normal = run()
    n = night(slow)
    assert n["status"] == "running" or n["overrun_s"] > 2 * 3600
    assert night(normal)["overrun_s"] == 0
    # Same mail and sessions: the users' commands and the deliveries are slower for the long backup.
    for proto in ("imap", "webmail"):
        assert (
            slow.kpis["clients"][proto]["commands"]["mean_s"]
            > normal.kpis["clients"][proto]["commands"]["mean_s"]
        )
    assert (
        slow.kpis["lmtp_latency"]["store"]["all"]["mean_s"]
        > normal.kpis["lmtp_latency"]["store"]["all"]["mean_s"]
    )


def test_a_tsm_outage_misses_the_backup_and_no_mail():
    res = run([down("tsm", "1h", "3h")])
    n = night(res)
    assert n["status"] == "missed" and n["reason"] == "tsm server down"
    assert res.kpis["recipients"]["lost"] == 0
    assert res.kpis["backup"]["tsm"]["missed"] == 1
    [incident] = res.kpis["incidents"]
    assert incident["target"] == "tsm" and "missed" in incident["effect"]


@pytest.mark.parametrize(("target", "reason"), [("tsm", "tsm server down"), ("store", "store down")])
def test_a_failure_while_it_runs_fails_the_night(target, reason):
    res = run([down(target, "2h10m", "30m")])  # 20:10, in the middle of the ~20 minutes it takes
    n = night(res)
    assert n["status"] == "failed" and n["reason"] == reason
    assert n["end_s"] == pytest.approx(2 * 3600 + 600, abs=60)  # seen at its next look
    assert 0 < n["examined"] < n["files"]
    assert res.kpis["recipients"]["lost"] == 0


def test_deleted_mail_stays_in_the_backup_for_its_retention():
    # Three nights with a retention of one day: each night's deletions are kept until the next night but one.
    res = run(["clock.horizon=66h", "platform.backup.retention=1d"])
    b = res.kpis["backup"]["tsm"]
    nights = [n for n in b["nights"] if n["status"] == "completed"]
    assert len(nights) == 3
    assert b["deleted_per_day_bytes"] > 0
    assert b["storage_bytes"] == pytest.approx(nights[-1]["storage_bytes"], rel=0.01)
    # the steady state: what it holds now plus 90 days... here 1 day of deletions
    assert b["storage_steady_bytes"] == pytest.approx(
        b["storage_active_bytes"] + b["deleted_per_day_bytes"], rel=1e-9
    )
    assert np.isfinite(b["storage_bytes"])


def test_with_both_stores_lost_the_mailboxes_are_restored_from_the_backup():
    # 19:00 both arrays are gone; the primary is back (empty) at 19:30 and is restored from the backup at
    # 30 MB/s before it takes mail again: its RTO is the outage plus the restore. No switch-over (the
    # replica has nothing either), and the night's backup at 20:00 is missed (no store serves).
    faults = (
        "faults=[{kind: loss, target: store, at: 1h, duration: 30m},"
        " {kind: loss, target: store-replica, at: 1h, duration: 10h}]"
    )
    res = run([faults])
    b = res.kpis["backup"]["tsm"]
    [restore] = b["restores"]
    assert restore["store"] == "store" and restore["start_s"] == pytest.approx(5400)
    assert restore["duration_s"] == pytest.approx(restore["bytes"] / (30 * 1024**2))
    assert restore["recipients_since_backup"] > 0  # delivered since the start, which the backup holds
    [incident] = [i for i in res.kpis["incidents"] if i["target"] == "store"]
    # the first delivery after it (the RTO) comes at the frontends' next try of the store: Exim's retry
    # rules have spaced them out by then (within half an hour)
    assert 1800 + restore["duration_s"] < incident["rto_s"] < 1800 + restore["duration_s"] + 1800
    assert res.kpis["replication"]["switchovers"] == 0
    assert night(res)["status"] == "missed" and night(res)["reason"] == "no store serves the mailboxes"


def test_without_a_restore_rate_an_empty_store_is_filled_as_before():
    faults = (
        "faults=[{kind: loss, target: store, at: 1h, duration: 30m},"
        " {kind: loss, target: store-replica, at: 1h, duration: 10h}]"
    )
    res = run([faults, "platform.backup.restore_rate=null"])
    assert res.kpis["backup"]["tsm"]["restores"] == []


def test_the_slow_backup_study_validates_and_says_why(capsys):
    from tests.helpers import ROOT
    from twin.cli import main

    path = ROOT / "scenarios" / "studies" / "backup-slow.yaml"
    text = path.read_text()
    assert "extends: ../baseline.yaml" in text and "expect:" in text and "seed §2" in text.lower()
    assert main(["validate", str(path)]) == 0  # its expectations name fields the results have
    assert "`scenarios/studies/backup-slow.yaml`" in (ROOT / "docs" / "backup.md").read_text()
