"""The users' sessions against real software (bench/calibrate_imap.py, docs/calibration.md): Dovecot's IMAP
server logs the calibration's users in, reads and expunges what they ask, and a session that does more
costs more."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import calibrate_imap as imap  # bench/ is not a package: put on sys.path above

WHY = imap.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"cannot run Dovecot's IMAP server here: {WHY}")


def test_each_kind_of_session_does_what_it_asks_and_costs_the_server_cpu():
    """``session`` raises unless SELECT opens the mailbox, FETCH returns the messages' bytes and EXPUNGE
    removes them; with a process forked per session (Dovecot's default) every session costs something."""
    cpu = imap.measure(30)
    assert set(cpu) == set(imap.KINDS)
    assert all(v > 0 for v in cpu.values()), cpu
