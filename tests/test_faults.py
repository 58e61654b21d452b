"""Outages and the remote senders that retry after them."""

from __future__ import annotations

import math

import pytest

import twin
from tests.helpers import BASELINE, network, outage, random_failures, simulate, station

SRC = [{"name": "a", "enter": "s", "rate": "0.5/s"}]


def test_an_esx_host_failure_takes_its_virtual_servers_down():
    sc = twin.load_scenario(BASELINE, ["clock.horizon=2h", "clock.drain=0s"])
    sc = twin.scenario_from_dict(
        {**sc.model_dump(mode="json", by_alias=True), "faults": [outage("esx1", "30m", "40m", "host crash")]}
    )
    res = twin.simulate(sc, seed=2)
    inc = res.incidents
    assert list(inc["target"]) == ["esx1", "fe4"]  # fe4 is the VM the baseline places on esx1
    assert list(inc["cause"]) == ["host crash", "esx1 down: host crash"]
    assert list(inc["start_s"]) == [1800.0, 1800.0] and list(inc["end_s"]) == [4200.0, 4200.0]
    ts = res.timeseries
    during = ts[(ts["component"] == "fe4") & (ts["t"] > 1800 + 60) & (ts["t"] <= 4200)]
    assert during["arrivals"].sum() == 0  # the balancer sends nothing to a VM that is down
    after = ts[(ts["component"] == "fe4") & (ts["t"] > 4200 + 60)]
    assert after["arrivals"].sum() > 0


def test_overlapping_outages_keep_a_node_down_until_the_last_ends():
    data = network({"s": station(1, "0.1s")}, SRC, horizon="2h")
    data["faults"] = [outage("s", "10m", "30m"), outage("s", "20m", "30m")]
    res = simulate(data)
    assert res.kpis["components"]["s"]["customers"] > 0
    ts = res.timeseries
    assert ts[(ts["t"] > 11 * 60) & (ts["t"] <= 49 * 60)]["arrivals"].sum() == 0
    assert ts[(ts["t"] > 51 * 60) & (ts["t"] <= 60 * 60)]["arrivals"].sum() > 0


def test_senders_retry_after_an_outage_and_deliver_everything():
    # All senders retry every minute for a day; a 10-minute outage delays mail but loses none.
    src = [{**SRC[0], "sender": {"retrying_share": 1.0, "retry": "F,1d,1m"}}]
    data = network({"s": station(1, "0.1s")}, src, horizon="1h", drain="30m")
    data["faults"] = [outage("s", "20m", "10m")]
    res = simulate(data)
    rec = res.kpis["recipients"]
    assert rec["delivered"] == rec["offered"] and res.kpis["conservation_ok"]
    led = res.ledger
    during = led[(led["t_offered"] >= 20 * 60) & (led["t_offered"] < 30 * 60)]
    assert (during["attempts"] >= 2).all()
    assert (during["t_final"] >= 30 * 60).all()  # nothing got through before the repair
    # Each sender retries every minute, so all are through within a minute of the repair (plus the
    # queueing of that small burst at the station).
    assert (during["t_final"] <= 31 * 60 + 30).all()


def test_bots_never_retry_and_end_as_expired_at_sender():
    src = [{**SRC[0], "sender": {"retrying_share": 0.0}}]
    data = network({"s": station(1, "0.1s")}, src, horizon="1h", drain="5m")
    data["faults"] = [outage("s", "20m", "10m")]
    res = simulate(data)
    led = res.ledger
    expired = led[led["state"] == "expired_at_sender"]
    offered_during = ((led["t_offered"] >= 20 * 60) & (led["t_offered"] < 30 * 60)).sum()
    assert len(expired) == offered_during > 0
    assert set(expired["stage"]) == {"s"} and set(expired["node"]) == {"(sender)"}
    assert (expired["t_final"] == expired["t_offered"]).all()


def test_retrying_share_is_drawn_per_message():
    # Share 0.3 of senders retry: the expired share of refused messages is 0.7 +- 4 binomial sd.
    src = [{"name": "a", "enter": "s", "rate": "5/s", "sender": {"retrying_share": 0.3, "retry": "F,1d,1m"}}]
    data = network({"s": station(4, "0.1s")}, src, horizon="2h", drain="10m")
    data["faults"] = [outage("s", "0s", "1h")]
    res = simulate(data)
    led = res.ledger
    refused = led[led["t_offered"] < 3600]
    share = (refused["state"] == "expired_at_sender").mean()
    assert abs(share - 0.7) < 4 * math.sqrt(0.7 * 0.3 / len(refused))


def test_senders_give_up_after_their_final_cutoff():
    src = [{**SRC[0], "sender": {"retrying_share": 1.0, "retry": "F,30m,5m"}}]
    data = network({"s": station(1, "0.1s")}, src, horizon="3h")
    data["faults"] = [outage("s", "0s", "2h")]
    res = simulate(data)
    led = res.ledger
    early = led[led["t_offered"] < 60 * 60]
    assert (early["state"] == "expired_at_sender").all()
    gave_up_after = early["t_final"] - early["t_offered"]
    # A message is given up at the first retry past the 30 min cutoff: 35 min after its first refusal
    # (within a second: retry times are whole seconds, as Exim's clock).
    assert gave_up_after.min() == pytest.approx(35 * 60, abs=1) and gave_up_after.max() == pytest.approx(
        35 * 60, abs=1
    )


def test_random_failures_follow_mtbf_and_mttr():
    # Up ~ exponential(mean 1 h), down 5 min: over 400 h about 400 / (1 + 1/12) = 369 failures; their
    # number is close to Poisson, so allow 4 standard deviations (sqrt(369) = 19).
    data = network({"s": station(1, "0.1s")}, [], horizon="400h")
    data["faults"] = [
        random_failures("s", {"dist": "exponential", "mean": "1h"}, {"dist": "constant", "value": "5m"})
    ]
    res = simulate(data, seed=4)
    inc = res.incidents
    expected = 400 / (1 + 5 / 60)
    assert abs(len(inc) - expected) < 4 * math.sqrt(expected)
    assert (inc.dropna()["duration_s"] == 300).all()
    again = simulate(data, seed=4).incidents
    assert inc.equals(again)  # random outages are drawn from named streams: repeatable


def test_conservation_holds_through_outages_of_every_kind():
    sc = twin.load_scenario(BASELINE, ["clock.horizon=2h", "clock.drain=10m"])
    data = sc.model_dump(mode="json", by_alias=True)
    data["faults"] = [
        outage("frontend", "20m", "15m"),
        outage("scan[12]", "40m", "30m"),
        outage("store", "1h", "20m"),
        {
            "kind": "random",
            "target": "esx*",
            "mtbf": {"dist": "exponential", "mean": "1h"},
            "mttr": {"dist": "exponential", "mean": "10m"},
        },
    ]
    res = twin.simulate(twin.scenario_from_dict(data), seed=9)
    rec = res.kpis["recipients"]
    assert res.kpis["conservation_ok"]
    assert rec["expired_at_sender"] > 0 and rec["delivered"] > 0
    assert len(res.incidents) >= 6 + 2 + 1
