"""The frontends' Exim spool: deliveries after acceptance under the retry rules, bounces, warnings."""

from __future__ import annotations

import pytest

from tests.helpers import simulate

H, M = 3600.0, 60.0


def platform(store_delivery=True, exim=None, horizon="3h", drain="0s", rate="0.2/s", faults=()):
    """One frontend (sender's transaction) and one store reached by LMTP from the frontend's spool."""
    data = {
        "meta": {"name": "queue"},
        "clock": {"start": "2010-05-03 00:00", "horizon": horizon, "drain": drain},
        "platform": {
            "frontend": {
                "members": [{"count": 1, "hardware": "sun-x4100-opteron-2.4"}],
                "demand": {"dist": "constant", "value": "5ms"},
                "routing": {"store": 1.0},
            },
            "store": {
                "members": [{"count": 1, "hardware": "sun-x4100-opteron-2.6"}],
                "demand": {"dist": "constant", "value": "10ms"},
                "delivery": store_delivery,
            },
        },
        "workload": {"sources": [{"name": "in", "enter": "frontend", "rate": rate}]},
        "policies": {"exim": {"queue_interval": "30m", **(exim or {})}},
        "faults": list(faults),
        "outputs": {"report": False},
    }
    return data


def store_down(at, duration):
    return {"kind": "outage", "target": "store", "at": at, "duration": duration}


def test_a_store_outage_fills_the_spool_and_the_queue_runs_empty_it():
    res = simulate(platform(faults=[store_down("30m", "1h")], drain="2h"))
    led = res.ledger
    rec = res.kpis["recipients"]
    assert rec["delivered"] == rec["offered"] and res.kpis["conservation_ok"]
    during = led[(led["t_offered"] >= 30 * M) & (led["t_offered"] < 90 * M)]
    # Accepted at once (the sender's transaction ends at the frontend), delivered only after the repair.
    assert ((during["t_accepted"] - during["t_offered"]) < 1).all()
    assert (during["t_final"] >= 90 * M).all()
    q = res.kpis["queues"]["fe"]
    assert q["spool_peak_messages"] >= 0.9 * len(during) and q["spool_at_end"] == 0
    assert q["retry_time_not_reached"] > 0  # new mail waits for the store's retry time (shared record)
    assert q["refused"] < 10  # ... so only the runs at retry times actually connect


def test_deliveries_wait_for_the_retry_time_and_a_queue_run():
    # F,2h,15m with 30-minute queue runs: after the repair, the spool empties at the first queue run that
    # comes at or after the store's retry time; immediate deliveries of new mail wait for the retry time.
    res = simulate(platform(faults=[store_down("10m", "35m")], drain="1h"))
    led = res.ledger
    waited = led[(led["t_offered"] >= 10 * M) & (led["t_offered"] < 45 * M)]
    finals = waited["t_final"]
    assert finals.min() >= 45 * M
    assert finals.max() - finals.min() < 5 * M  # one queue run delivered them all, one after another


def test_the_retry_rules_bounce_mail_for_a_store_that_stays_down():
    exim = {"retry": "F,1h,10m", "queue_interval": "5m"}
    res = simulate(platform(exim=exim, faults=[store_down("10m", "5h")], horizon="2h", drain="10m"))
    led = res.ledger
    bounced = led[led["state"] == "bounced"]
    assert len(bounced) > 0
    assert set(bounced["stage"]) <= {
        "retry timeout exceeded",
        "retry time not reached for any host after a long failure period",
    }
    # The first messages time out an hour after the store's first failure, via the ultimate address
    # timeout or the expired host record; later ones fail at once under delay_after_cutoff.
    first = bounced.sort_values("t_offered").iloc[0]
    assert first["t_final"] - first["t_offered"] == pytest.approx(H, abs=6 * M)
    # Past the cutoff, new mail fails at once; only when the post-cutoff retry time (every 10 min, from
    # the final rule) has come does one message get a real attempt, which times it out.
    late = bounced[bounced["t_offered"] > 80 * M]
    assert ((late["t_final"] - late["t_offered"]) < 1).all()
    reasons = late["stage"].value_counts()
    tried = reasons["retry timeout exceeded"]
    assert reasons["retry time not reached for any host after a long failure period"] > 100 * tried
    assert abs(tried - (2 * H + 10 * M - 80 * M) / (10 * M)) <= 2
    # Every bounce is a new message from <> to the sender, with the original as parent, sent out.
    notices = led[led["traffic_class"] == "bounce"]
    assert len(notices) == len(bounced)
    assert set(notices["parent_id"]) == set(bounced["msg_id"])
    assert (notices["state"] == "delivered").all() and set(notices["node"]) == {"internet"}
    assert res.kpis["conservation"]["generated_by_platform"] == len(notices)
    assert res.kpis["conservation_ok"]


def test_a_bounce_that_cannot_be_delivered_is_frozen_not_bounced_again():
    exim = {"retry": "F,30m,10m", "queue_interval": "5m"}
    faults = [store_down("0s", "5h"), {"kind": "outage", "target": "internet", "at": "0s", "duration": "5h"}]
    res = simulate(platform(exim=exim, faults=faults, horizon="1h", drain="2h", rate="0.05/s"))
    led = res.ledger
    notices = led[led["traffic_class"] == "bounce"]
    assert len(notices) == (led["state"] == "bounced").sum() > 0
    assert (notices["state"] == "pending").all() and set(notices["stage"]) == {"frozen"}
    assert not led["parent_id"].isin(notices["msg_id"]).any()  # no bounce of a bounce
    assert res.kpis["queues"]["fe"]["frozen"] == len(notices) and res.kpis["conservation_ok"]


def test_delay_warnings_go_only_with_real_delivery_attempts():
    # The store is down for 40 h; the host is tried every 6 h (F,2d,6h), queue runs every 5 min. Exim
    # sends a warning only after a run that really attempted a delivery (deliver.c, delivery_attempted).
    # All messages share the host's retry record: in each queue run past the retry time, the first
    # message tried makes the attempt and the others see "retry time not reached", so only the message
    # that made an attempt after 24 h on the queue is warned.
    exim = {"retry": "F,2d,6h", "queue_interval": "5m", "delay_warning": "24h"}
    res = simulate(
        platform(exim=exim, faults=[store_down("0s", "40h")], horizon="30m", drain="44h", rate="0.01/s")
    )
    led = res.ledger
    originals = led[led["traffic_class"] == "inbound"]
    warnings = led[led["traffic_class"] == "delay_warning"]
    # Attempts after 24 h on the queue: at about 24 h, 30 h and 36 h after the first failure.
    assert len(originals) >= 8 and 1 <= len(warnings) <= 3
    assert warnings["t_offered"].is_unique  # one per attempt
    received = originals.set_index("msg_id").loc[warnings["parent_id"], "t_offered"].to_numpy()
    assert (warnings["t_offered"].to_numpy() - received >= 24 * H).all()
    assert res.kpis["queues"]["fe"]["warnings_sent"] == len(warnings)
    assert (originals["state"] == "delivered").all()
    assert not (led["traffic_class"] == "bounce").any()


def test_without_a_delivery_target_nothing_is_spooled():
    res = simulate(platform(store_delivery=False, faults=[store_down("30m", "30m")], horizon="2h"))
    q = res.kpis["queues"]["fe"]
    assert q["accepted"] == 0 and q["spool_peak_messages"] == 0
    # The outage reached the senders instead of the spool: they had to try again.
    led = res.ledger
    during = led[(led["t_offered"] >= 30 * M) & (led["t_offered"] < 60 * M)]
    assert len(during) > 0 and (during["attempts"] >= 2).all()
    assert res.kpis["conservation_ok"]
