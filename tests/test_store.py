"""Cyrus LMTP at the store: unknown mailboxes (550 5.1.1) and quota (452 4.2.2), docs/platform.md §3.2,
§A."""

from __future__ import annotations

import pytest

import twin
from tests.helpers import simulate
from tests.mail import mail_platform
from twin.components.frontend import Frontend

H, M = 3600.0, 60.0


def one_mailbox(quota="10KB", expunge=None, exim=None, horizon="40m", drain="3h", **extra):
    """Every message goes to the one mailbox; 4 KB messages about every 10 minutes."""
    boxes = {"count": 1, "quota": quota, **({"expunge": expunge} if expunge else {}), **extra}
    return mail_platform(
        horizon=horizon, drain=drain, volume="0.0017/s", mailboxes=boxes, exim=exim or {"retry": "F,1h,10m"}
    )


def test_one_message_may_push_a_mailbox_over_its_quota_the_next_waits_then_bounces():
    # Quota 10 KB, 4 KB messages: the 1st (0 KB used), 2nd (4) and 3rd (8 < 10, ends at 12) go in; every
    # later one gets 452 and waits on the frontend's queue under the per-address retry rule F,1h,10m.
    res = simulate(one_mailbox(horizon="2h"))
    led = res.ledger[res.ledger["parent_id"] == -1].sort_values("t_offered")
    assert len(led) >= 6
    assert list(led["state"].astype(str))[:3] == ["delivered"] * 3
    later = led.iloc[3:]
    assert set(later["state"].astype(str)) <= {"bounced", "pending"}
    bounced = later[later["state"] == "bounced"]
    assert len(bounced) >= 2
    assert set(bounced["stage"].astype(str)) <= {
        "retry timeout exceeded",
        "retry time not reached for any host after a long failure period",
    }
    # The address record's cutoff is an hour from its first failure (the 4th message's 452).
    first_452 = later.iloc[0]["t_accepted"]
    assert bounced["t_final"].min() >= first_452 + H - 1
    assert res.kpis["components"]["store"]["customers"] > 4  # deferred recipients were retried by LMTP
    bounces = res.ledger[res.ledger["traffic_class"] == "bounce"]
    assert len(bounces) == len(bounced)


def test_a_deferred_message_is_delivered_after_the_user_expunges():
    # After 30 minutes the user cleans the mailbox out; the waiting messages go in at the next retry.
    # Each cleaning makes room for three more 4 KB messages in the 10 KB quota.
    expunge = {"every": "30m", "share": 1.0, "to": 0.0}
    data = one_mailbox(expunge=expunge, exim={"retry": "F,1d,10m"}, horizon="25m")
    data["workload"]["inbound"]["volume"] = "0.01/s"
    res = simulate(data)
    led = res.ledger.sort_values("t_offered")
    assert len(led) > 8 and (led["state"] == "delivered").all()
    late = led[led["t_final"] > 30 * M]
    assert len(late) >= 3  # they waited for an expunge
    # ... and went in at the first queue run after their retry time (10 min) following a cleaning.
    since_expunge = late["t_final"] % (30 * M)
    assert since_expunge.max() <= 10 * M + 5 * M
    assert res.kpis["mailboxes"]["expunged"] >= 2


def test_over_quota_can_be_made_a_permanent_failure():
    data = one_mailbox(horizon="2h")
    data["platform"]["store"]["over_quota_perm_failure"] = True
    led = simulate(data).ledger
    led = led[led["parent_id"] == -1].sort_values("t_offered")
    assert set(led.iloc[3:]["stage"].astype(str)) == {"552 5.2.2 over quota"}


def test_a_mailbox_missing_at_the_store_bounces_with_550():
    res = simulate(mail_platform(horizon="20m", mailboxes={"count": 50, "missing": 1.0}))
    led = res.ledger
    originals = led[led["parent_id"] == -1]
    assert set(originals["stage"].astype(str)) == {"550 5.1.1 mailbox unknown"}
    assert set(originals["state"].astype(str)) == {"bounced"}
    bounces = led[led["parent_id"] != -1]
    assert len(bounces) == len(originals) and set(bounces["traffic_class"].astype(str)) == {"bounce"}
    assert res.kpis["conservation_ok"]


def test_mailboxes_grow_with_deliveries():
    data = mail_platform(horizon="20m", mailboxes={"count": 20, "quota": "1GB"})
    sc = twin.scenario_from_dict(data)
    res = twin.simulate(sc, seed=3)
    led = res.ledger
    delivered = led[led["state"] == "delivered"]
    assert len(delivered) > 0
    assert res.kpis["mailboxes"]["usage_bytes"] == int(delivered["size"].sum())


@pytest.mark.parametrize(
    ("seed", "warning", "expunge"),
    [(4, "30m", None), (5, "1h:2h:4h", {"every": "3h", "share": 0.5, "to": 0.5})],
)
def test_queue_runs_that_skip_sleeping_messages_decide_exactly_as_full_runs(
    monkeypatch, seed, warning, expunge
):
    # Many messages wait for two full mailboxes, with delay warnings, records that pass their cutoff, and
    # (second case) users who clean up now and then.
    data = mail_platform(
        horizon="2h",
        drain="6h",
        volume="0.05/s",
        mailboxes={"count": 2, "quota": "10KB", **({"expunge": expunge} if expunge else {})},
        exim={"retry": "F,1h,10m; G,6h,20m,1.5", "delay_warning": warning},
    )

    def ledger_of(skip: bool):
        if not skip:
            # No message ever goes to sleep (``wake`` stays 0): every queue run asks about every one.
            monkeypatch.setattr(Frontend, "_sleep", lambda self, item, db: None)
        res = simulate(data, seed=seed)
        monkeypatch.undo()
        return res

    fast, full = ledger_of(True), ledger_of(False)
    assert fast.ledger.equals(full.ledger)
    assert fast.kpis["queues"] == full.kpis["queues"]
    assert fast.kpis["queues"]["fe1"]["warnings_sent"] > 5
    assert (fast.ledger["state"] == "bounced").sum() > 5
