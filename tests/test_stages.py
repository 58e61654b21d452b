"""Each stage of an inbound message (docs/platform.md §3.1) on its accept, defer and reject paths, in small
deterministic platforms (tests/mail.py)."""

from __future__ import annotations

import pytest

import twin
from tests.helpers import outage, simulate
from tests.mail import mail_platform
from twin.model import Model

M = 60.0


def by_stage(res):
    led = res.ledger
    return {
        (str(s), str(g)): int(n)
        for (s, g), n in led.groupby(["state", "stage"], observed=True).size().items()
        if n
    }


def test_mail_that_passes_every_check_is_delivered_to_the_store():
    res = simulate(mail_platform(horizon="20m"))
    rec = res.kpis["recipients"]
    assert rec["offered"] > 400 and rec["delivered"] == rec["offered"]
    assert by_stage(res) == {("delivered", "store"): rec["offered"]}
    led = res.ledger
    assert (led["spam_score"] == 0).all()  # scanned: the score was written
    assert (led["t_final"] > led["t_offered"]).all()


def test_a_blocklisted_client_is_rejected_at_connect_and_never_scanned():
    res = simulate(mail_platform(horizon="20m", mail={"blocklisted": 1.0}))
    rec = res.kpis["recipients"]
    assert by_stage(res) == {("rejected", "blocklist"): rec["offered"]}
    assert (res.ledger["spam_score"] == -1).all()
    assert res.kpis["components"]["scan1"]["customers"] == 0


def test_an_unreachable_blocklist_gives_a_temporary_error():
    data = mail_platform(horizon="20m", faults=[outage("blocklist", "0s", "1h")])
    res = simulate(data)
    rec = res.kpis["recipients"]
    # These senders do not retry: the 4xx ends the message at the sender.
    assert by_stage(res) == {("expired_at_sender", "blocklist unreachable"): rec["offered"]}


def test_recipients_are_checked_one_by_one_at_rcpt():
    data = mail_platform(
        horizon="30m",
        mail={"recipients": {"dist": "constant", "value": 3}, "guessed": 0.2},
        mailboxes={"count": 1000, "deactivated": 0.2, "unknown": 0.1},
    )
    res = simulate(data)
    led = res.ledger
    n = len(led)
    stages = by_stage(res)
    # Expected shares: guessed 0.2; of the others 0.2 deactivated and 0.1 unknown (of the population).
    assert stages[("rejected", "unknown recipient")] / n == pytest.approx(0.2 + 0.8 * 0.1, abs=0.03)
    assert stages[("rejected", "deactivated")] / n == pytest.approx(0.8 * 0.2, abs=0.03)
    assert stages[("delivered", "store")] + sum(v for (s, _), v in stages.items() if s == "rejected") == n
    # Messages with some recipients refused and others delivered.
    mixed = led.groupby("msg_id")["state"].agg(lambda s: set(map(str, s)))
    assert (mixed.map(len) == 2).sum() > 50


def test_the_directory_down_means_4xx_at_rcpt():
    res = simulate(mail_platform(horizon="20m", faults=[outage("ldap", "5m", "5m")]))
    led = res.ledger
    refused = led[led["state"] == "expired_at_sender"]
    assert set(refused["stage"].astype(str)) == {"ldap unreachable"}
    assert refused["t_final"].between(5 * M, 10 * M).all() and len(refused) > 100


def test_sender_verification_rejects_at_mail_from():
    res = simulate(mail_platform(horizon="20m", mail={"bad_sender": 1.0}))
    assert set(by_stage(res)) == {("rejected", "sender verify")}


def test_a_virus_is_rejected_after_the_scan():
    res = simulate(mail_platform(horizon="20m", mail={"virus": 1.0}))
    assert set(by_stage(res)) == {("rejected", "virus")}
    assert res.kpis["components"]["scan1"]["customers"] > 0


def test_an_attachment_is_held_by_its_name_and_the_recipient_told():
    # Half the attachments are programs (exe: on the seed's list), a quarter documents padded with spaces
    # before a harmless extension (the spaces rule), the rest plain documents, which pass.
    attachments = {"share": 1.0, "extensions": {"exe": 2, "zip": 2}, "spaces": 0.5}
    res = simulate(mail_platform(horizon="20m", mail={"attachments": attachments}))
    led = res.ledger
    originals = led[led["parent_id"] == -1]
    held = originals[originals["state"] == "attachment_held"]
    notices = led[led["parent_id"] != -1]
    by_stage = held["stage"].astype(str).value_counts(normalize=True)
    assert set(by_stage.index) == {"attachment: listed extension", "attachment: spaces in the file name"}
    assert 0.6 < by_stage["attachment: listed extension"] < 0.73  # exe: 1/2 of 3/4 held
    assert 0.6 < len(held) / len(originals) < 0.9  # 3/4 held
    assert set(originals.loc[originals["state"] != "attachment_held", "state"].astype(str)) == {"delivered"}
    assert len(notices) == len(held)
    assert set(notices["traffic_class"].astype(str)) == {"attachment_notice"}
    assert set(notices["state"].astype(str)) == {"delivered"}
    assert (
        notices.set_index("parent_id")["mailbox"].sort_index().to_numpy()
        == held.set_index("msg_id")["mailbox"].sort_index().to_numpy()
    ).all()
    assert res.kpis["conservation_ok"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("setup.exe", "listed extension"),
        ("SETUP.EXE", "listed extension"),  # without case
        ("photo.jpg.scr", "listed extension"),  # the last extension counts
        ("invoice.pdf" + " " * 30 + ".exe", "listed extension"),
        ("invoice.pdf" + " " * 30 + ".zip", "spaces in the file name"),
        ("a b c d e f.zip", None),  # five spaces: not more than spaces_max
        ("a b c d e f g.zip", "spaces in the file name"),
        ("Bericht final v2.pdf", None),
        ("Makefile", None),  # no extension
        ("archive.adpx", "listed extension"),  # from the seed's footnote 4, January 2010
        ("page.xsl", "listed extension"),
        ("page.xslx", None),
    ],
)
def test_the_file_name_rule_of_stage_5(name, reason):
    from twin.scenario.schema import SEED_EXTENSIONS, AttachmentPolicy
    from twin.sim.attachments import held

    policy = AttachmentPolicy()
    assert len(SEED_EXTENSIONS) == 49 and policy.extensions == SEED_EXTENSIONS
    assert held(name, frozenset(policy.extensions), policy.spaces_max) == reason


def test_the_old_attachment_fields_get_a_message_that_says_what_replaced_them():
    with pytest.raises(twin.ScenarioError, match="drawn by file name now"):
        simulate(mail_platform(horizon="5m", mail={"attachments": {"dangerous": 0.5}}))


@pytest.mark.parametrize(("score", "state"), [(49, "delivered"), (50, "quarantined"), (90, "quarantined")])
def test_quarantine_holds_mail_from_50_percent_for_who_enabled_it(score, state):
    data = mail_platform(
        horizon="20m",
        mail={"spam_score": {"dist": "constant", "value": score}},
        mailboxes={"quarantine": 0.5, "count": 400},
    )
    led = simulate(data).ledger
    got = led.groupby("state", observed=True).size()
    if state == "delivered":
        assert set(got.index.astype(str)) == {"delivered"}
    else:
        share = got["quarantined"] / len(led)
        assert share == pytest.approx(0.5, abs=0.08)  # the recipients who enabled it
        assert set(got.index.astype(str)) == {"delivered", "quarantined"}


def test_a_scan_cluster_that_is_down_gives_4xx():
    res = simulate(mail_platform(horizon="20m", faults=[outage("scanner", "5m", "5m")]))
    led = res.ledger
    refused = led[led["state"] == "expired_at_sender"]
    assert set(refused["stage"].astype(str)) == {"scan unreachable"}
    # The balancer notices dead scanners only after its keepalives; then nothing is left to pick.
    assert refused["t_final"].min() >= 5 * M and refused["t_final"].max() < 10 * M + 6


def test_a_scanner_at_its_concurrency_limit_refuses():
    data = mail_platform(
        horizon="10m",
        volume="30/s",
        platform={"scanner": {"concurrency": 2, "demand": {"dist": "exponential", "mean": "100ms"}}},
    )
    stages = by_stage(simulate(data))
    assert stages.get(("expired_at_sender", "scan busy"), 0) > 100
    assert stages[("delivered", "store")] > 1000


def test_the_milter_gives_up_after_its_timeout():
    # Two scanners of 4 cores at 200 ms a scan serve 40/s; 50/s overloads them and waits grow until
    # the frontends' 1 s milter timeout cuts them off.
    data = mail_platform(
        horizon="10m",
        volume="50/s",
        platform={
            "frontend": {"milter_timeout": "1s", "smtp_accept_max": 500},
            "scanner": {"demand": {"dist": "constant", "value": "200ms"}},
        },
    )
    res = simulate(data)
    led = res.ledger
    timeouts = led[led["stage"] == "scan timeout"]
    assert len(timeouts) > 1000
    assert res.kpis["components"]["scan1"]["mean_wait"] < 1.0  # nobody waits past the timeout
    assert res.kpis["conservation_ok"]


def test_scanners_answer_for_two_hours_without_the_central_server():
    # The central server is down from 0:10 to 3:10. Scanners keep working until 2:10 (seed: 2 hours),
    # then every scan is answered invalidly (4xx) until the central server is back.
    data = mail_platform(horizon="4h", volume="0.2/s", faults=[outage("scan_central", "10m", "3h")])
    led = simulate(data).ledger
    ok = led[led["state"] == "delivered"]
    bad = led[led["stage"] == "scan invalid"]
    grace_end, back = 10 * M + 2 * 3600, 10 * M + 3 * 3600
    assert len(bad) > 500
    # Verdicts come at the end of a scan; messages arrive about every 5 s.
    assert grace_end <= bad["t_final"].min() < grace_end + 60
    assert bad["t_final"].max() < back
    delivered_during = ok[(ok["t_accepted"] > grace_end) & (ok["t_accepted"] < back)]
    assert len(delivered_during) == 0
    assert ((ok["t_accepted"] > grace_end - 60) & (ok["t_accepted"] < grace_end)).sum() > 5
    assert (ok["t_accepted"] > back).sum() > 500


def test_the_grace_ends_exactly_two_hours_after_the_central_server_went_down():
    sc = twin.scenario_from_dict(
        mail_platform(horizon="4h", volume="0.01/s", faults=[outage("scan_central", "10m", "3h")])
    )
    model = Model(sc, seed=1)
    scanner = model.components["scan1"]
    end = 10 * M + 2 * 3600
    model.advance(end - 0.001)
    assert scanner.valid()
    model.advance(end)
    assert not scanner.valid()
    model.advance(10 * M + 3 * 3600 + 0.001)
    assert scanner.valid()
