"""Stage 12 in the simulation: the store runs the mailboxes' Sieve scripts at delivery (docs/sieve.md, "At
the store"), and what the scripts decide ends the rows: delivered with a folder, discarded, redirected with
a child message, vacation replies; a script that does not compile or whose fileinto fails keeps the mail in
INBOX (seed §3.2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import twin
from tests import sieve_pigeonhole as ph
from tests.helpers import ROOT
from tests.mail import users_platform
from twin.components.filters import Filters
from twin.model import Model
from twin.scenario.expectations import KPI_BLOCKS
from twin.sim import headers
from twin.sim.flow import OUTSIDE, Mail, Message

BASELINE = ROOT / "scenarios" / "baseline.yaml"
SIEVE_ON = ["workload.mailboxes.sieve.enabled=true"]  # off in the baseline for now (docs/performance.md)


def platform(script: str, folders=(), share=1.0, mail=None, count=200, horizon="1h"):
    """A small platform whose every mailbox (``share``) runs ``script``; inbound mail of one class with
    spam scores spread over 0..100 and the header fields of ``mail``."""
    cls = {
        "spam_score": {"dist": "empirical", "quantiles": [[0, 0], [1, 100]]},
        "headers": {"bcc": 0.0, "senders": 50},
        **(mail or {}),
    }
    data = users_platform(inbound=True, horizon=horizon, drain="30m", volume="0.3/s", mail=cls)
    data["workload"]["submission"]["enabled"] = False
    data["workload"]["mailboxes"] = {
        "count": count,
        "quota": "1GB",
        "sieve": {"share": share, "scripts": [{"text": script, "share": 1.0, "folders": list(folders)}]},
    }
    return data


def run(data, seed=2):
    res = twin.simulate(twin.scenario_from_dict(data), seed=seed)
    assert res.kpis["conservation_ok"]
    return res


def originals(res):
    led = res.ledger
    return led[led["parent_id"] == -1]


def test_fileinto_files_spam_into_a_folder_and_the_ledger_names_it():
    script = (
        'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" { fileinto "Junk"; }\n'
    )
    res = run(platform(script, folders=["Junk"]))
    led = originals(res)
    delivered = led[led["state"] == "delivered"]
    assert len(delivered) > 500
    # the folder follows the scan's probability, the header the script tests (seed §3.1 step 6)
    junk = delivered["folder"] == "Junk"
    assert (delivered.loc[junk, "spam_score"] >= 50).all()
    assert (delivered.loc[~junk, "spam_score"] < 50).all()
    assert (delivered.loc[~junk, "folder"] == "INBOX").all()
    assert 0.3 < junk.mean() < 0.7  # uniform scores: about half
    assert set(delivered["stage"].astype(str)) == {"sieve"}
    # rows not in a mailbox carry no folder
    assert led.loc[led["state"] != "delivered", "folder"].isna().all()
    assert res.kpis["sieve"]["folders"]["Junk"] == int(junk.sum())


def test_discard_ends_the_rows_discarded_and_the_mailbox_does_not_grow():
    data = platform('if header :contains "subject" "{SPAM!}" { discard; stop; }')
    data["expect"] = ["sieve.discarded > 100", "sieve.failed == 0"]
    model = Model(twin.scenario_from_dict(data), seed=2)
    before = sum(model.ctx.mailboxes.usage)
    model.run()
    res = run(data)
    led = originals(res)
    discarded = led[led["state"] == "discarded"]
    delivered = led[led["state"] == "delivered"]
    assert len(discarded) > 100
    # the subject tag {SPAM!} from 70 % (seed §3.1 step 8) is what the script tests
    assert (discarded["spam_score"] >= 70).all() and (delivered["spam_score"] < 70).all()
    assert set(discarded["stage"].astype(str)) == {"sieve discard"}
    assert res.kpis["recipients"]["discarded"] == len(discarded)
    # the block's fields are the ones expectations may name (scenario/expectations.py)
    assert tuple(res.kpis["sieve"]) == KPI_BLOCKS["sieve"] and res.kpis["expectations_ok"]
    # what was discarded takes no room: the mailboxes grew by the delivered messages alone
    grown = sum(model.ctx.mailboxes.usage) - before
    assert grown == int(delivered["size"].sum())


def test_a_redirect_without_keep_ends_the_row_redirected_and_sends_a_child_message_on():
    res = run(platform('redirect "me@big.example";'))
    led = res.ledger
    orig = originals(res)
    redirected = orig[orig["state"] == "redirected"]
    assert len(redirected) > 200 and not (orig["state"] == "delivered").any()
    children = led[led["traffic_class"] == "redirect"]
    # one copy per redirected row, the original its parent, of the same size
    assert sorted(children["parent_id"]) == sorted(redirected["msg_id"])
    sizes = redirected.set_index("msg_id")["size"]
    assert (children["size"].to_numpy() == sizes.loc[children["parent_id"]].to_numpy()).all()
    # the copy goes out over SMTP to the named remote domain: delivered there (or waiting at the end)
    assert set(children["state"].astype(str)) <= {"delivered", "pending"}
    assert (children["state"] == "delivered").mean() > 0.9
    delivered_there = res.kpis["remote"]["internet"]["by_domain"]["big.example"]["delivered"]
    assert delivered_there == (children["state"] == "delivered").sum()
    assert set(children.loc[children["state"] == "delivered", "node"].astype(str)) == {"internet"}


def test_redirect_and_keep_delivers_and_sends_a_copy():
    res = run(platform('redirect "me@big.example"; keep;'))
    orig = originals(res)
    assert (orig.loc[orig["node"] == "store", "state"] == "delivered").all()
    copies = res.ledger[res.ledger["traffic_class"] == "redirect"]
    assert len(copies) == (orig["state"] == "delivered").sum()


def test_a_redirect_to_a_local_address_is_delivered_to_another_mailbox_and_not_redirected_again():
    res = run(platform('redirect "friend@uni-paderborn.de";', horizon="20m"))
    led = res.ledger
    copies = led[led["traffic_class"] == "redirect"]
    parents = originals(res).set_index("msg_id")
    assert len(copies) > 50
    # the copy reaches a mailbox here, whose own script (the same redirect) does not send it on again
    assert (copies["mailbox"] >= 0).all()
    assert set(copies["state"].astype(str)) <= {"redirected", "pending"}
    assert set(copies["parent_id"]) <= set(parents.index)
    assert (led["traffic_class"] == "redirect").sum() == res.kpis["sieve"]["redirects_sent"]


def test_a_script_that_does_not_compile_and_a_failing_fileinto_keep_the_mail_in_inbox():
    broken = run(platform('require ["fileinto"];\nfileinto "Junk"\n', folders=["Junk"], horizon="20m"))
    led = originals(broken)
    at_store = led[led["node"] == "store"]
    assert len(at_store) > 100
    assert set(at_store["stage"].astype(str)) == {"sieve: syntax error, kept in INBOX"}
    assert (at_store["folder"] == "INBOX").all()
    assert broken.kpis["sieve"]["scripts"][0]["compiles"] is False
    # a folder the mailbox does not have: the fileinto fails, the message stays in INBOX
    missing = run(platform('require ["fileinto"]; fileinto "Archive";', folders=["Junk"], horizon="20m"))
    led = originals(missing)
    at_store = led[led["node"] == "store"]
    assert set(at_store["stage"].astype(str)) == {"sieve: failed, kept in INBOX"}
    assert (at_store["folder"] == "INBOX").all()


def test_vacation_replies_once_per_sender_and_never_to_lists_or_bulk():
    script = 'require "vacation"; vacation :days 7 "away";'
    mail = {
        "spam_score": {"dist": "constant", "value": 0},
        "headers": {"list": 0.2, "bulk": 0.2, "bcc": 0.1, "senders": 30},
    }
    res = run(platform(script, mail=mail, count=5, horizon="2h"))
    led = res.ledger
    replies = led[led["traffic_class"] == "vacation"]
    sieve = res.kpis["sieve"]
    assert len(replies) == sieve["vacation_sent"] > 10
    # at most one reply per mailbox and sender in 7 days: 5 mailboxes x 30 senders
    assert len(replies) <= 5 * 30
    suppressed = sieve["vacation_suppressed"]
    assert suppressed["duplicate"] > len(replies)
    assert suppressed["mailing list"] > 0 and suppressed["precedence bulk"] > 0
    assert suppressed["recipient not in headers"] > 0
    # a reply answers a delivered message and goes to the sender's domain (from <>: never bounced)
    orig = originals(res).set_index("msg_id")
    assert set(replies["parent_id"]) <= set(orig.index)
    assert set(replies["state"].astype(str)) <= {"delivered", "pending"}


def test_scripts_switched_off_run_nowhere():
    data = platform("discard;", horizon="10m")
    data["workload"]["mailboxes"]["sieve"]["enabled"] = False
    res = run(data)
    assert "sieve" not in res.kpis and res.kpis["mailboxes"]["sieve"] == 0
    assert not (res.ledger["state"] == "discarded").any()


def test_a_share_of_the_mailboxes_runs_scripts_and_the_rest_deliver_as_before():
    res = run(platform("discard;", share=0.25, count=400, horizon="30m"))
    led = originals(res)
    at_store = led[led["node"] == "store"]
    scripted = at_store["state"] == "discarded"
    assert 0.1 < scripted.mean() < 0.45
    assert set(at_store.loc[~scripted, "stage"].astype(str)).isdisjoint({"sieve", "sieve discard"})
    assert 60 <= res.kpis["mailboxes"]["sieve"] <= 140  # 25 % of 400


def test_the_baseline_runs_every_outcome(tmp_path):
    res = twin.simulate(
        twin.load_scenario(BASELINE, ["clock.horizon=2h", "clock.start=2010-05-03 09:00", *SIEVE_ON]), seed=1
    )
    assert res.kpis["conservation_ok"]
    led = res.ledger
    states = set(led["state"].astype(str))
    assert {"delivered", "discarded", "redirected"} <= states
    classes = set(led["traffic_class"].astype(str))
    assert {"redirect", "vacation"} <= classes
    folders = set(led["folder"].dropna().astype(str))
    assert {"INBOX", "Junk", "Lists", "Newsletters"} <= folders
    stages = set(led["stage"].astype(str))
    assert {"sieve: syntax error, kept in INBOX", "sieve: failed, kept in INBOX"} <= stages
    # 15 % of the mailboxes have a script (docs/platform.md §B); 17,500 mailboxes: +-3 sigma
    n = res.kpis["mailboxes"]["sieve"]
    assert abs(n - 0.15 * 17500) < 3 * np.sqrt(17500 * 0.15 * 0.85)
    # the report has a table per template
    res.save(tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Sieve at the store" in page and "sieve/broken.sieve (does not compile)" in page


def test_a_script_file_that_cannot_be_read_is_a_scenario_error_naming_file_line_and_field(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "extends: " + str(BASELINE) + "\n"
        "workload:\n"
        "  mailboxes:\n"
        "    sieve:\n"
        "      share: 0.1\n"
        "      scripts:\n"
        "        - {file: nowhere.sieve, share: 1}\n"
    )
    with pytest.raises(twin.ScenarioError) as err:
        twin.load_scenario(tmp_path / "s.yaml")
    text = str(err.value)
    assert f"{tmp_path / 's.yaml'}:7: workload.mailboxes.sieve.scripts[0].file" in text
    assert "nowhere.sieve" in text and "No such file" in text
    # a device or a folder is refused, not read for ever
    for odd in ("/dev/zero", str(tmp_path)):
        with pytest.raises(twin.ScenarioError, match="not a regular file"):
            twin.load_scenario(tmp_path / "s.yaml", [f"workload.mailboxes.sieve.scripts[0].file={odd}"])
    # a copy of the baseline elsewhere finds the shipped scripts
    (tmp_path / "copy.yaml").write_text(BASELINE.read_text())
    copied = twin.load_scenario(tmp_path / "copy.yaml").workload.mailboxes.sieve.scripts
    assert [t.text for t in copied] == [t.text for t in TEMPLATES] and "discard;" in copied[5].text
    # the script found beside the scenario file is read into the scenario
    (tmp_path / "nowhere.sieve").write_text("discard;\n")
    sc = twin.load_scenario(tmp_path / "s.yaml")
    assert sc.workload.mailboxes.sieve.scripts[0].text == "discard;\n"


# -- the store's engine on the simulation's messages, against Pigeonhole -----------------------------------

TEMPLATES = twin.load_scenario(BASELINE).workload.mailboxes.sieve.scripts


def simulated_messages(filters: Filters) -> list[tuple[str, object]]:
    """Every combination of the header flags, at spam scores around the thresholds, as the store builds
    them (``Filters.message``), from outside senders, a list and a local user."""
    out = []
    for flags in range(16):
        for spam in (0, 49, 50, 69, 70, 100):
            code = (7 << headers.SHIFT) | flags
            mail = Mail(1, 0, 1, 6000, [3], False, False, spam, False, 0, code)
            out.append((f"f{flags}-s{spam}", filters.message(mail, 3)))
    local = Mail(2, 0, 1, 3000, [3], False, False, 0, False, 0, 0)
    local.sender = 11
    out.append(("local", filters.message(local, 3)))
    assert all(m.sender for _, m in out)
    return out


@pytest.fixture(scope="module")
def filters():
    model = Model(twin.load_scenario(BASELINE, ["clock.horizon=1m", *SIEVE_ON]), seed=0)
    return model.ctx.filters


@pytest.mark.parametrize("template", range(len(TEMPLATES)), ids=lambda i: TEMPLATES[i].file)
def test_the_store_and_pigeonhole_agree_on_the_baseline_scripts_and_simulated_messages(
    template, filters, tmp_path
):
    spec = TEMPLATES[template]
    script = tmp_path / "script.sieve"
    script.write_text(spec.text)
    folders = tuple(spec.folders)
    cases = simulated_messages(filters)
    ours, files = {}, {}
    for name, message in cases:
        files[name] = tmp_path / f"{name}.eml"
        files[name].write_bytes(message.text())
        ours[name] = ph.twin_verdict(script, files[name], folders, message.recipient)
    # the file says to the engine what the message object says to the store: the same actions
    compiled = filters.scripts[template]
    for name, message in cases:
        if compiled.ok:
            assert ours[name]["actions"] == [ph._action(a) for a in compiled.run(message).actions], name
        else:
            assert ours[name]["compile_ok"] is False
    if not ph.available():
        pytest.skip(
            "Pigeonhole's sieve-test is not installed (apt-get install dovecot-sieve; .ci/run installs it)"
        )
    pigeonhole = ph.Pigeonhole(folders, cases[0][1].recipient)
    try:
        theirs = {name: pigeonhole.verdict(script, files[name]) for name, _ in cases}
    finally:
        pigeonhole.close()
    disagree = {k: {"twin": ours[k], "pigeonhole": theirs[k]} for k in ours if ours[k] != theirs[k]}
    assert not disagree, json.dumps(disagree, indent=1)[:4000]


def test_a_notice_from_the_platform_is_seen_from_the_null_sender(filters):
    notice = Message(5, 0, 1, 2048, [3])
    seen = filters.message(notice, 3)
    assert seen.sender == "" and seen.header("auto-submitted") == ["auto-replied"]
    assert filters.sender_address(notice) == ""
    outside = Mail(6, 0, 1, 100, [3], False, False, 0, False, 0, (42 << headers.SHIFT))
    assert outside.sender == OUTSIDE and filters.sender_address(outside).startswith("s42@")
