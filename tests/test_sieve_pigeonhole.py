"""The twin's Sieve engine against Dovecot Pigeonhole's ``sieve-test``, the reference implementation, on
the corpus in tests/data/sieve (every script against every message: compile errors and their line,
the actions and the implicit keep of the dry run, and what ``sieve-test -e`` then stored, redirected and
replied for a mailbox with the folders of ``tests.sieve_pigeonhole.FOLDERS``).

Pigeonhole's verdicts are recorded in tests/data/sieve/pigeonhole.json by ``python -m
tests.sieve_pigeonhole --record``; the twin is compared with the recording everywhere, and where
``sieve-test`` is installed (``.ci/run`` installs dovecot-sieve) the recording is compared with a live run.
"""

from __future__ import annotations

import json

import pytest

from tests import sieve_pigeonhole as ph

RECORDED = json.loads(ph.RECORDING.read_text())


def test_the_recording_covers_the_whole_corpus():
    assert set(RECORDED["cases"]) == {ph.case_id(s, m) for s, m in ph.cases()}
    assert RECORDED["folders"] == list(ph.FOLDERS) and RECORDED["recipient"] == ph.RECIPIENT
    verdicts = RECORDED["cases"].values()
    # The corpus exercises every outcome the store maps to a ledger state, and the compile errors.
    assert sum(not v["compile_ok"] for v in verdicts) >= 6 * len(ph.messages())
    compiled = [v for v in verdicts if v["compile_ok"]]
    assert any(v["stored"] == [] and ["discard"] in v["actions"] for v in compiled)
    assert any(v["redirected"] for v in compiled)
    assert any(v["delivery_failed"] and not v["runtime_error"] for v in compiled)  # fileinto a missing folder
    assert any(v["runtime_error"] for v in compiled)
    reasons = {v["vacation"] for v in compiled} - {None}
    assert {
        "reply to",
        "mailing list",
        "auto-submitted",
        "precedence bulk",
        "system address",
        "auto-response suppressed",
        "recipient not in headers",
    } <= reasons


@pytest.mark.parametrize("script", ph.scripts(), ids=lambda p: p.stem)
def test_the_twin_agrees_with_pigeonhole(script):
    disagree = {}
    for message in ph.messages():
        key = ph.case_id(script, message)
        ours = ph.twin_verdict(script, message)
        if ours != RECORDED["cases"][key]:
            disagree[key] = {"pigeonhole": RECORDED["cases"][key], "twin": ours}
    assert not disagree, json.dumps(disagree, indent=1)


@pytest.mark.skipif(
    not ph.available(),
    reason="Pigeonhole's sieve-test is not installed (apt-get install dovecot-sieve; .ci/run installs it): "
    "the twin is still compared with the recorded verdicts",
)
def test_the_recording_is_what_pigeonhole_says_now():
    live = ph.record()
    changed = {
        k: (RECORDED["cases"][k], v) for k, v in live["cases"].items() if RECORDED["cases"].get(k) != v
    }
    assert not changed, (
        f"Pigeonhole {live['pigeonhole']} (recorded with {RECORDED['pigeonhole']}) now says otherwise for "
        f"{len(changed)} cases: {json.dumps(changed, indent=1)[:3000]}"
    )
