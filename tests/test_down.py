"""A node that is down does nothing: no SMTP reply, no acceptance, no delivery attempt, no LMTP answer.
Work in progress when it fails is cut as its protocol implies: an SMTP session drops (the sender
retries), an LMTP delivery in flight is not acknowledged (the message stays on the spool), and accepted
mail on a frontend's spool survives the crash and is delivered after it comes back."""

from __future__ import annotations

import twin
from tests.helpers import outage, random_failures, simulate
from tests.mail import mail_platform
from twin.model import Model

H, M = 3600.0, 60.0


def long_sessions(**extra):
    """Messages of 2 MB at the senders' 100 KB/s: each SMTP session lasts about 20 s, so a crash meets
    sessions in the middle. Every sender retries every minute."""
    data = mail_platform(
        volume="2/s",
        mail={
            "size": {"dist": "constant", "value": "2MB"},
            "sender": {"retrying_share": 1.0, "retry": "F,1d,1m"},
        },
        **extra,
    )
    data["workload"]["inbound"]["transfer_rate"] = "100KB"
    return data


def test_a_frontend_that_is_down_neither_accepts_nor_delivers():
    # The store is down 8:00-20:00, so fe1's spool holds mail when fe1 itself fails at 10:00 (until 15:00).
    sc = twin.scenario_from_dict(
        mail_platform(
            horizon="30m",
            drain="1h",
            volume="5/s",
            faults=[outage("store", "8m", "12m"), outage("fe1", "10m", "5m")],
        )
    )
    model = Model(sc, seed=2)
    fe1 = model.components["fe1"]
    model.advance(10 * M + 0.001)
    assert not fe1.up
    spooled = [r for item in fe1.spool.values() for r in item.rows]
    counts = dict(fe1.counts)
    sessions = fe1.smtp.sessions
    assert len(spooled) > 100 and fe1.station.busy == 0 and fe1.smtp.connections == 0
    model.advance(15 * M - 0.001)
    assert fe1.counts == counts and fe1.smtp.sessions == sessions  # nothing accepted, nothing tried
    assert [r for item in fe1.spool.values() for r in item.rows] == spooled  # the spool survived
    model.advance(15 * M + 0.001)
    # Back: the restarted daemon runs the queue at once (the store's retry time has not come yet).
    assert fe1.counts["retry_time_not_reached"] > counts["retry_time_not_reached"]
    model.run()
    led = model.ledger.to_frame()
    assert (led.loc[spooled, "state"] == "delivered").all()
    assert (led.loc[spooled, "t_final"] > 20 * M).all()


def test_a_crash_drops_the_sessions_in_flight_and_their_senders_retry():
    res = simulate(long_sessions(horizon="20m", drain="30m", faults=[outage("fe1", "10m", "5m")]), seed=4)
    smtp = res.kpis["smtp"]["temporary_errors_by_stage"]
    assert smtp["connection lost"] >= 5  # sessions cut in the middle (2/s, half on fe1, ~20 s each)
    led = res.ledger
    assert (led["state"] == "delivered").all() and res.kpis["conservation_ok"]
    assert (led["attempts"] >= 2).sum() >= smtp["connection lost"]


def test_no_reply_comes_from_a_frontend_while_it_is_down():
    # Refusals at MAIL are decided at connect, a few milliseconds ahead: none may be given by a frontend
    # that has failed in between. Blocklisted senders, 20 a second; fe1 fails every few seconds.
    data = mail_platform(horizon="10m", volume="20/s", mail={"blocklisted": 0.5})
    data["faults"] = [
        random_failures("fe1", {"dist": "exponential", "mean": "3s"}, {"dist": "exponential", "mean": "2s"})
    ]
    res = simulate(data, seed=5)
    led = res.ledger
    inc = res.incidents
    assert len(inc) > 50
    fe1 = led[(led["node"] == "fe1") & (led["state"] != "pending")]
    assert len(fe1) > 500
    t = fe1["t_final"].to_numpy()
    for start, end in zip(inc["start_s"], inc["end_s"], strict=True):
        assert not ((t > start) & (t < end)).any(), (start, end)


def test_a_store_crash_during_lmtp_leaves_the_message_on_the_spool():
    # LMTP takes 20 s of CPU a message at the store: deliveries are in flight when it crashes.
    data = mail_platform(horizon="10m", drain="1h", volume="0.2/s", faults=[outage("store", "5m", "2m")])
    data["platform"]["store"]["demand"] = {"dist": "constant", "value": "20s"}
    data["platform"]["store"]["servers"] = 4
    res = simulate(data, seed=6)
    cut = sum(q["deliveries_cut"] for q in res.kpis["queues"].values())
    assert cut >= 1
    led = res.ledger
    delivered = led[led["state"] == "delivered"]
    assert not ((delivered["t_final"] > 5 * M) & (delivered["t_final"] < 7 * M)).any()
    assert len(delivered) == len(led) and res.kpis["conservation_ok"]  # the cut ones came later


def test_a_station_that_fails_drops_its_customers():
    sc = twin.scenario_from_dict(
        mail_platform(horizon="20m", volume="20/s", faults=[outage("scan1", "10m", "5m")])
    )
    model = Model(sc, seed=1)
    model.advance(10 * M - 1)
    scan1 = model.components["scan1"].station
    assert scan1.in_system > 0 or scan1.arrivals > 1000
    model.advance(10 * M + 0.0001)
    assert scan1.busy == 0 and scan1.queued == 0
