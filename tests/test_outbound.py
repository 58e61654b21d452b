"""Mail the users send (submission with authentication) and its delivery to remote domains under Exim's
per-host retry rules: docs/outbound.md."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.helpers import simulate
from tests.mail import submission, users_platform
from twin.components.domains import Domains
from twin.sim.streams import Streams

H, M = 3600.0, 60.0


def _outage(domain="big.example", at="2h", duration="1d"):
    return {"domain": domain, "at": at, "duration": duration}


def test_a_day_long_outage_of_a_popular_domain_queues_warns_and_bounces_as_exim_would():
    # big.example takes 1/H(10) = 34 % of the outbound mail and cannot be reached from 2 h for a day. The
    # retry rule's final cutoff (20 h) comes before the end of the outage: Exim bounces what waits for
    # the host once the host has failed for longer than that, and warns the senders (6 h) on the way.
    exim = {"retry": "F,2h,15m; G,16h,1h,1.5; F,20h,6h", "queue_interval": "30m", "delay_warning": "6h"}
    data = users_platform(
        sub=submission(stop="4h"),
        remote={"outages": [_outage()]},
        mailboxes={"count": 200},
        horizon="2d",
        exim=exim,
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    out = led[led["traffic_class"] == "out"]
    offered_during = out[(out["t_offered"] >= 2 * H) & (out["t_offered"] < 4 * H)]
    # the outbound queue: messages waiting for remote domains on the frontends
    ts = res.timeseries
    queue = ts[ts["kind"] == "frontend"].groupby("t")["outbound_messages"].sum()
    peak = queue[(queue.index >= 4 * H) & (queue.index < 20 * H)].max()
    assert peak >= 0.25 * len(offered_during)  # about a third of them go to big.example
    assert queue[queue.index >= 27 * H].max() == 0  # bounced by then: nothing waits
    # the recipients at big.example offered during the outage bounce after the cutoff, not before
    bounced = out[out["state"] == "bounced"]
    timed_out = bounced[bounced["stage"] != "550 5.1.1 unknown user (remote)"]
    assert len(timed_out) >= 0.25 * len(offered_during)
    assert (timed_out["t_final"] >= 2 * H + 20 * H).all() and (
        timed_out["t_final"] < 2 * H + 1 * 24 * H
    ).all()
    # ... while mail to the other domains went out within seconds
    others = out[(out["state"] == "delivered") & (out["t_offered"] >= 2 * H) & (out["t_offered"] < 4 * H)]
    assert len(others) > 0.5 * len(offered_during)
    assert (others["t_final"] - others["t_offered"]).quantile(0.9) < 60
    # each bounce and each delay warning is a message from <> to the local sender, delivered by LMTP
    for kind in ("bounce", "delay_warning"):
        notices = led[led["traffic_class"] == kind]
        assert len(notices) > 0, kind
        assert (notices["state"] == "delivered").all() and set(notices["node"]) == {"store"}
        assert (notices["mailbox"] >= 0).all()
        assert set(notices["parent_id"]) <= set(out["msg_id"])
    warned = led[led["traffic_class"] == "delay_warning"]
    first = out.groupby("msg_id")["t_offered"].min()
    assert (warned["t_offered"].to_numpy() - first.loc[warned["parent_id"]].to_numpy() >= 6 * H).all()
    # the host's one retry record keeps the connections down to the retry times, not one per message
    assert kpis["remote"]["internet"]["refused_connections"] < 0.2 * len(offered_during)


def test_a_greylisting_domain_delays_first_tries_until_it_whitelists_each_frontend():
    # Every domain greylists (postgrey: 5 min delay, whitelisting a client after 5 passes). Exim keeps the
    # 451 as an address retry record (F,2h,15m: next try after 15 min), taken by the next queue run
    # (every 5 min here).
    data = users_platform(
        remote={"greylisting": 1.0, "domains": 1, "names": ["grey.example"]},
        mailboxes={"count": 100},
        horizon="3h",
        drain="1h",
        exim={"queue_interval": "5m"},
    )
    res = simulate(data)
    led = res.ledger
    assert res.kpis["conservation_ok"]
    out = led[led["traffic_class"] == "out"]
    assert (out["state"] == "delivered").all()
    latency = out["t_final"] - out["t_offered"]
    delayed = latency > 60
    assert delayed.sum() >= 10  # the first tries of each frontend (2 of them)
    assert (latency[delayed] >= 15 * M).all() and (latency[delayed] <= 15 * M + 5 * M + 60).all()
    # after 5 passes per frontend, nothing is greylisted any more
    assert not delayed[out["t_offered"] > 1 * H].any()
    assert res.kpis["remote"]["internet"]["greylisted"] == delayed.sum()


def test_an_unknown_remote_user_bounces_to_the_local_sender():
    sub = submission()
    sub["classes"]["out"]["unknown_remote"] = 0.3
    res = simulate(users_platform(sub=sub, mailboxes={"count": 100}, horizon="1h", drain="10m"))
    led = res.ledger
    out = led[led["traffic_class"] == "out"]
    bounced = out[out["state"] == "bounced"]
    assert 0.2 < len(bounced) / len(out) < 0.4
    assert set(bounced["stage"]) == {"550 5.1.1 unknown user (remote)"}
    notices = led[led["traffic_class"] == "bounce"]
    assert len(notices) == bounced["msg_id"].nunique()
    assert (notices["state"] == "delivered").all() and (notices["mailbox"] >= 0).all()
    assert res.kpis["conservation_ok"]


def test_internal_mail_goes_by_lmtp_and_mistyped_local_addresses_are_refused_at_rcpt():
    internal = {
        "per_mailbox": "20/day",
        "local": 1.0,
        "unknown_local": 0.1,
        "recipients": {"dist": "constant", "value": 2},
        "size": {"dist": "constant", "value": "4KB"},
    }
    res = simulate(
        users_platform(sub=submission(classes={"internal": internal}), mailboxes={"count": 200}, horizon="1h")
    )
    led = res.ledger
    rows = led[led["traffic_class"] == "internal"]
    assert set(rows["state"]) <= {"delivered", "rejected", "pending"}
    refused = rows[rows["state"] == "rejected"]
    assert 0.05 < len(refused) / len(rows) < 0.15 and set(refused["stage"]) == {"unknown recipient"}
    assert set(rows.loc[rows["state"] == "delivered", "node"]) == {"store"}
    assert res.kpis["submission"]["reached_data"] > 0


def test_a_kdc_outage_fails_kerberos_logins_and_the_clients_send_again_after():
    data = users_platform(
        sub=submission(kerberos=0.5, retry="F,1d,10m"),
        mailboxes={"count": 200},
        horizon="2h",
        drain="1h",
        faults=[{"kind": "outage", "target": "kdc", "at": "30m", "duration": "30m"}],
    )
    res = simulate(data)
    led = res.ledger
    assert res.kpis["conservation_ok"]
    errors = res.kpis["submission"]["temporary_errors_by_stage"]
    assert errors.get("kdc unreachable", 0) > 0 and set(errors) == {"kdc unreachable"}
    out = led[led["traffic_class"] == "out"]
    during = out[(out["t_offered"] >= 30 * M) & (out["t_offered"] < 60 * M)]
    retried = during[during["attempts"] > 1]
    # about half log in with Kerberos: they wait for the KDC, the others (password) do not
    assert 0.3 < len(retried) / len(during) < 0.7
    assert (retried["t_accepted"] >= 60 * M).all()
    assert (out["state"] == "delivered").all()


def test_a_directory_outage_refuses_submission_with_4xx():
    data = users_platform(
        mailboxes={"count": 200},
        horizon="1h",
        faults=[{"kind": "outage", "target": "ldap", "at": "10m", "duration": "20m"}],
    )
    res = simulate(data)
    errors = res.kpis["submission"]["temporary_errors_by_stage"]
    assert errors.get("ldap unreachable", 0) > 0  # the password logins (all: kerberos 0)
    assert res.kpis["conservation_ok"]


def test_the_same_seed_gives_the_same_ledger_with_users_mail():
    data = users_platform(remote={"greylisting": 0.5}, mailboxes={"count": 100}, horizon="30m", inbound=True)
    a, b = simulate(data, seed=3), simulate(data, seed=3)
    assert a.ledger.equals(b.ledger)
    c = simulate(data, seed=4)
    assert not a.ledger.equals(c.ledger)


# -- the remote domains ------------------------------------------------------------------------------------


def _domains(**spec):
    clock = {"start": "2010-05-03 00:00", "horizon": "1h"}
    sc = twin.scenario_from_dict({"meta": {"name": "d"}, "clock": clock, "workload": {"remote": spec}})
    return Domains(Streams(7), sc.workload.remote, end=30 * 86400.0)


def test_domain_popularity_follows_the_zipf_law():
    doms = _domains(domains=1000, popularity=1.0)
    picks = doms.pick(np.random.default_rng(1), 200_000)
    harmonic = (1.0 / np.arange(1, 1001)).sum()
    # 200,000 draws: the top share's standard error is ~0.0007
    assert (picks == 0).mean() == pytest.approx(1 / harmonic, abs=0.004)
    assert (picks == 1).mean() == pytest.approx(0.5 / harmonic, abs=0.003)


def test_random_unreachable_periods_take_the_share_mtbf_and_mttr_give():
    doms = _domains(
        domains=2000,
        failures={
            "mtbf": {"dist": "exponential", "mean": "10d"},
            "mttr": {"dist": "exponential", "mean": "12h"},
        },
    )
    end = 30 * 86400.0
    down = sum(doms.unreachable_time(d, 0.0, end) for d in range(2000)) / (2000 * end)
    # an alternating renewal process: mttr / (mtbf + mttr) = 0.5 / 10.5; 2000 domains x ~3 periods each
    assert down == pytest.approx(0.5 / 10.5, rel=0.1)


def test_scheduled_outages_merge_and_name_their_domain():
    doms = _domains(
        domains=5,
        names=["a.example"],
        outages=[
            _outage("a.example", "1h", "2h"),
            _outage("a.example", "2h", "2h"),
            _outage("domain3", "0s", "1h"),
        ],
    )
    assert doms.down[0] == [3600.0, 4 * 3600.0] and doms.down[2] == [0.0, 3600.0]
    assert not doms.reachable(0, 2 * H) and doms.reachable(0, 4 * H + 1) and doms.reachable(1, 2 * H)
    assert doms.reachable_throughout(0, 0, 1 * H - 1) and not doms.reachable_throughout(0, 0, 2 * H)
    assert doms.name(0) == "a.example" and doms.name(2) == "domain3"


def test_an_outage_of_an_unknown_domain_is_refused_naming_the_domain():
    with pytest.raises(twin.ScenarioError, match=r"unknown domain .nowhere\.example."):
        _domains(domains=5, outages=[_outage("nowhere.example")])


# -- subdomains with their own server and the relay (seed §4, §5) ------------------------------------------

INTERNAL = {"members": [{"count": 1, "hardware": "imt-service-host"}]}


def test_mail_for_a_subdomain_goes_to_its_server_and_waits_on_the_spools_while_it_is_down():
    # A third of the inbound recipients are at a subdomain whose server (the internal node) is down
    # 20-50 min: their mail waits on the frontends' spools under the host's retry record and goes when
    # it is back; the other recipients are not held up.
    data = users_platform(
        inbound=True,
        mailboxes={"count": 100},
        horizon="1h30m",
        drain="1h",
        exim={"queue_interval": "5m", "retry": "F,2h,5m"},
        faults=[{"kind": "outage", "target": "internal", "at": "20m", "duration": "30m"}],
    )
    data["workload"]["submission"]["enabled"] = False
    data["workload"]["inbound"]["classes"]["m"]["subdomain"] = 0.3
    data["platform"]["internal"] = INTERNAL
    res = simulate(data)
    led = res.ledger
    assert res.kpis["conservation_ok"]
    at_sub = led[(led["node"] == "internal")]
    assert 0.2 < len(at_sub) / len(led) < 0.4 and (at_sub["state"] == "delivered").all()
    assert (at_sub["mailbox"] == -1).all()  # not a mailbox here: no RCPT refusal for it either
    during = at_sub[(at_sub["t_offered"] > 21 * M) & (at_sub["t_offered"] < 49 * M)]
    assert len(during) > 0 and (during["t_final"] >= 50 * M).all()  # held until the server was back
    assert (during["t_final"] <= 50 * M + 5 * M + 60).all()  # ... and sent at the next queue run
    local = led[(led["node"] == "store") & (led["t_offered"] > 21 * M) & (led["t_offered"] < 49 * M)]
    assert (local["t_final"] - local["t_offered"]).max() < 60


def test_the_relay_takes_mail_from_downstream_systems_without_a_login_and_bounces_go_back_to_them():
    # Downstream systems hand their mail to the relay (seed §5): no AUTH (the KDC and the directory are
    # down the whole time and it still goes out), scanned like all mail; a bounce goes back to the system.
    relay = {
        "volume": "2000/day",
        "relay": True,
        "local": 0.0,
        "unknown_remote": 0.2,
        "recipients": {"dist": "constant", "value": 1},
        "size": {"dist": "constant", "value": "4KB"},
    }
    data = users_platform(
        sub=submission(classes={"relay": relay}),
        mailboxes={"count": 100},
        horizon="1h",
        drain="10m",
        faults=[
            {"kind": "outage", "target": "kdc", "at": "0s", "duration": "2h"},
            {"kind": "outage", "target": "ldap", "at": "0s", "duration": "2h"},
        ],
    )
    data["platform"]["internal"] = INTERNAL
    res = simulate(data)
    led = res.ledger
    assert res.kpis["conservation_ok"] and res.kpis["submission"]["temporary_errors_by_stage"] == {}
    sent = led[led["traffic_class"] == "relay"]
    assert set(sent["state"]) == {"delivered", "bounced"} and (sent["attempts"] == 1).all()
    assert set(sent.loc[sent["state"] == "delivered", "node"]) == {"internet"}
    bounces = led[led["traffic_class"] == "bounce"]
    assert len(bounces) == (sent["state"] == "bounced").sum() > 0
    assert set(bounces["node"]) == {"internal"} and (bounces["state"] == "delivered").all()


def test_subdomain_recipients_without_an_internal_server_are_refused_before_the_run():
    data = users_platform(inbound=True, mailboxes={"count": 10})
    data["workload"]["inbound"]["classes"]["m"]["subdomain"] = 0.1
    with pytest.raises(twin.ScenarioError, match="subdomain recipients need internal instances"):
        twin.scenario_from_dict(data)


def test_a_part_a_queue_runner_delivered_is_not_delivered_again_by_the_immediate_run():
    # Each message has a recipient at down.example (unreachable: the immediate run of that part waits for
    # the 5-minute connect timeout) and one at up.example, which no longer knows it (550). The immediate
    # runs of a message's parts go one after the other, so while the first waits, a queue run (every
    # minute) may take the second and bounce it: the immediate run must then leave it alone (Exim locks a
    # message during a delivery, and a bounced recipient is gone from the spool), not bounce it again.
    out = {
        "per_mailbox": "50/day",
        "local": 0.0,
        "unknown_remote": 1.0,
        "recipients": {"dist": "constant", "value": 2},
        "size": {"dist": "constant", "value": "8KB"},
    }
    data = users_platform(
        sub=submission(classes={"out": out}, stop="20m"),
        remote={
            "domains": 2,
            "popularity": 0.0,
            "names": ["down.example", "up.example"],
            "connect_timeout": "5m",
            "outages": [{"domain": "down.example", "at": "0s", "duration": "2h"}],
        },
        mailboxes={"count": 200},
        horizon="1h",
        exim={"queue_interval": "1m"},
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation"]["rows_finalised_twice"] == 0 and kpis["conservation_ok"]
    out_rows = led[led["traffic_class"] == "out"]
    # messages whose first recipient waited for down.example while the second bounced
    both = out_rows.groupby("msg_id")["state"].agg(lambda s: set(s) == {"pending", "bounced"})
    assert both.sum() > 10
    # one bounce per message whose recipients at up.example bounced, not two
    bounced = out_rows[out_rows["state"] == "bounced"]["msg_id"].nunique()
    assert len(led[led["traffic_class"] == "bounce"]) == bounced
