"""The load balancer pair: keepalive-based health of the backends and takeover by the standby."""

from __future__ import annotations

from tests.helpers import outage, simulate
from tests.mail import mail_platform

M = 60.0


def refused_connects(res):
    led = res.ledger
    return led[(led["state"] == "expired_at_sender") & (led["stage"] == "connect")]["t_final"]


def test_a_dead_frontend_gets_connections_until_three_keepalives_failed():
    # fe1 dies at 10:00. Keepalives every 5 s, 3 failures: marked dead 10-15 s later. Until then about
    # half the connections (round robin over 2 frontends) hit it and fail; after that none do.
    res = simulate(mail_platform(horizon="20m", volume="20/s", faults=[outage("fe1", "10m", "5m")]))
    t = refused_connects(res)
    assert len(t) > 50
    assert t.min() >= 10 * M and t.max() <= 10 * M + 15
    assert t.max() >= 10 * M + 9  # detection takes at least (failures - 1) intervals
    # Back at 15:00: used again after its next successful keepalive (within 5 s).
    ts = res.timeseries
    fe1 = ts[ts["component"] == "fe1"].set_index("t")["arrivals"]
    assert fe1.loc[14 * M + 60 : 15 * M].sum() == 0 and fe1.loc[16 * M : 17 * M].sum() > 0


def test_detection_delay_follows_the_keepalive_settings():
    data = mail_platform(
        horizon="20m",
        volume="20/s",
        faults=[outage("fe1", "10m", "5m")],
        platform={"load_balancer": {"keepalive_interval": "2s", "keepalive_failures": 10}},
    )
    t = refused_connects(simulate(data))
    assert 10 * M + 17 <= t.max() <= 10 * M + 20  # 9 intervals + the first probe's phase


def test_the_standby_takes_over_when_the_active_unit_fails():
    res = simulate(mail_platform(horizon="20m", volume="20/s", faults=[outage("lb1", "10m", "5m")]))
    t = refused_connects(res)
    # Nothing gets through for the 3 s takeover, then the standby serves.
    assert len(t) > 30
    assert t.min() >= 10 * M and t.max() <= 10 * M + 3
    rec = res.kpis["recipients"]
    assert rec["delivered"] + rec["pending"] + len(t) == rec["offered"]


def test_with_both_units_down_nothing_gets_through():
    res = simulate(mail_platform(horizon="20m", volume="5/s", faults=[outage("load_balancer", "10m", "2m")]))
    t = refused_connects(res)
    assert t.min() >= 10 * M and t.max() <= 12 * M + 3
    assert len(t) > 0.9 * 5 * 120
