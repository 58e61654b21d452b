"""The Sieve engine (twin/sieve) on its own: the RFCs' rules one by one, what the twin adds to sievelib,
vacation's memory, and ``mailtwin sieve-test``. Agreement with Pigeonhole on a corpus is
tests/test_sieve_pigeonhole.py."""

from __future__ import annotations

import json

import pytest

from tests.helpers import ROOT
from twin.cli import main
from twin.sieve import Message, VacationMemory, compile_script, deliver

SCRIPTS = ROOT / "tests" / "data" / "sieve" / "scripts"
MESSAGES = ROOT / "tests" / "data" / "sieve" / "messages"


def message(sender="alice@example.org", recipient="bob@uni.de", size=2000, **fields) -> Message:
    headers = {"From": [sender], "To": [recipient], "Subject": ["hello"]}
    headers.update({k.replace("_", "-"): v if isinstance(v, list) else [v] for k, v in fields.items()})
    return Message(headers, size, sender, recipient)


def run(text: str, msg: Message | None = None, folders=("Work", "Junk", "Lists")):
    script = compile_script(text, "t")
    assert script.ok, script.errors
    msg = msg or message()
    result = script.run(msg)
    return result, deliver(result, msg, folders)


def test_no_script_action_means_the_implicit_keep():
    result, delivery = run("if false { discard; }")
    assert result.actions == [] and result.implicit_keep
    assert delivery.stored == ["INBOX"] and not delivery.discarded


def test_discard_cancels_the_implicit_keep_and_stores_nothing():
    result, delivery = run("discard;")
    assert result.actions == [("discard",)] and not result.implicit_keep
    assert delivery.stored == [] and delivery.discarded


def test_fileinto_a_missing_folder_fails_the_transaction_into_inbox():
    # RFC 5228 §2.10.6: an action that cannot be carried out leaves the implicit keep; Pigeonhole drops
    # the whole transaction (the redirect too), which the corpus test confirms.
    _, delivery = run('require "fileinto"; fileinto "Nope"; redirect "x@example.com";')
    assert delivery.stored == ["INBOX"] and delivery.redirected == []
    assert "Nope" in delivery.errors[0]


def test_numeric_relational_compare_on_a_score_header():
    text = (
        'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if header :value "ge" :comparator "i;ascii-numeric" "X-IMT-Spam-Score" "50" { fileinto "Junk"; }'
    )
    # RFC 4790 §9.1: "9" < "50" numerically although "9" > "50" as octets
    assert run(text, message(X_IMT_Spam_Score="9"))[1].stored == ["INBOX"]
    assert run(text, message(X_IMT_Spam_Score="97"))[1].stored == ["Junk"]
    # a value without a leading digit is positive infinity
    assert run(text, message(X_IMT_Spam_Score="n/a"))[1].stored == ["Junk"]


def test_count_counts_header_fields_and_an_absent_header_counts_zero():
    text = (
        'require ["relational", "comparator-i;ascii-numeric"];\n'
        'if header :count "eq" :comparator "i;ascii-numeric" "Received" "0" { discard; }'
    )
    assert run(text)[1].discarded
    assert not run(text, message(Received=["a", "b"]))[1].discarded


def test_matches_wildcards_and_escapes():
    assert run('if header :matches "Subject" "h?l*" { discard; }')[1].discarded
    assert not run('if header :matches "Subject" "h\\\\?l*" { discard; }')[1].discarded


def test_envelope_null_sender_matches_only_the_empty_string_whatever_the_part():
    text = 'require "envelope"; if envelope :localpart :is "from" "" { discard; }'
    assert run(text, message(sender=""))[1].discarded
    assert not run(text, message())[1].discarded


def test_vacation_once_per_sender_per_period():
    script = compile_script('require "vacation"; vacation :days 2 "away";', "t")
    memory = VacationMemory()
    msg = message()
    sent = [deliver(script.run(msg), msg, (), memory, now=t).vacation for t in (0, 3600, 2 * 86400)]
    assert [v["sent"] for v in sent] == [True, False, True]
    assert sent[1]["reason"] == "duplicate"
    other = message(sender="carol@example.org")
    assert deliver(script.run(other), other, (), memory, now=3600).vacation["sent"]


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"List_Id": "<x.lists.uni.de>"}, "mailing list"),
        ({"Precedence": "bulk"}, "precedence bulk"),
        ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
        ({"To": "someone@else.org"}, "recipient not in headers"),
    ],
)
def test_vacation_is_suppressed_as_rfc_5230_says(fields, reason):
    _, delivery = run('require "vacation"; vacation "away";', message(**fields))
    assert delivery.vacation == {"sent": False, "reason": reason}
    assert delivery.stored == ["INBOX"]  # vacation keeps the implicit keep (RFC 5230 §4.7)


def test_null_and_daemon_senders_get_no_vacation_reply():
    text = 'require "vacation"; vacation "away";'
    assert run(text, message(sender=""))[1].vacation["reason"] == "null sender"
    assert run(text, message(sender="MAILER-DAEMON@x.org"))[1].vacation["reason"] == "system address"


@pytest.mark.parametrize(
    "text, line, words",
    [
        (
            'require ["relational"];\nif header :value "gt" :comparator "i;ascii-numeric" "X" "5" {discard;}',
            2,
            "without require",
        ),
        (
            'require ["relational", "comparator-i;ascii-numeric"];\n\nif header :contains :comparator '
            '"i;ascii-numeric" "X" "5" {discard;}',
            3,
            "does not support :contains",
        ),
        ('require "nosuch";', 1, "unknown Sieve capability 'nosuch'"),
        ("keep;\ndiscard", 2, "';' expected"),
        ('\n\nfileinto "x";', 3, "extension 'fileinto' not loaded"),
        ('redirect "not-an-address";', 1, "invalid address"),
    ],
)
def test_what_the_twin_adds_to_sievelib_fails_with_the_line(text, line, words):
    script = compile_script(text, "s.sieve")
    assert not script.ok
    assert script.errors[0].startswith(f"s.sieve:{line}: ") and words in script.errors[0]


def test_sieve_test_json_has_the_documented_shape(capsys):
    code = main(
        [
            "sieve-test",
            str(SCRIPTS / "combo.sieve"),
            str(MESSAGES / "plain.eml"),
            "--to",
            "bob@uni-paderborn.de",
            "--folders",
            "Work,Archive",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["compile_ok"] is True and out["errors"] == []
    assert out["actions"] == [
        {"action": "store", "folder": "Work"},
        {"action": "vacation", "subject": "Auto: hello", "seconds": 604800},
    ]
    assert out["implicit_keep"] is False
    assert out["delivery"] == {
        "stored": ["Work"],
        "redirected": [],
        "discarded": False,
        "vacation": {"sent": True, "reason": "reply to <alice@example.org>"},
    }


def test_sieve_test_without_folders_falls_back_to_inbox(capsys):
    code = main(["sieve-test", str(SCRIPTS / "lists.sieve"), str(MESSAGES / "list.eml")])
    out = capsys.readouterr().out
    assert code == 0
    assert (
        "store message in folder: Lists" in out
        and "stored in: INBOX" in out
        and "Mailbox doesn't exist" in out
    )


def test_sieve_test_refuses_a_script_that_does_not_compile_with_exit_2(capsys):
    script = SCRIPTS / "bad-syntax.sieve"
    assert main(["sieve-test", str(script), str(MESSAGES / "plain.eml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{script}:4: ") and "'}'" in err[0]  # the "}" after fileinto
    assert main(["sieve-test", str(script), str(MESSAGES / "plain.eml"), "--json"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["compile_ok"] is False


def test_sieve_test_names_a_missing_file(capsys, tmp_path):
    assert main(["sieve-test", str(tmp_path / "none.sieve"), str(MESSAGES / "plain.eml")]) == 2
    assert "none.sieve: cannot read the script" in capsys.readouterr().err
    assert main(["sieve-test", str(SCRIPTS / "lists.sieve"), str(tmp_path / "none.eml")]) == 2
    assert "none.eml: cannot read the message" in capsys.readouterr().err
