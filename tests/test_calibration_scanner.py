"""The scanner against real software (bench/calibrate_scanner.py, docs/calibration.md): SpamAssassin with
its shipped rules and local tests scans the calibration's messages, and a larger message costs more."""

from __future__ import annotations

import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import calibrate_scanner as scanner  # bench/ is not a package: put on sys.path above

WHY = scanner.missing()


def test_the_messages_have_their_size_and_differ():
    words = scanner._corpus()
    bodies = [scanner.message(i, 20, words) for i in range(5)]
    for body in bodies:
        assert 20 * 1024 <= len(body.encode()) <= 22 * 1024
        assert body.startswith("From sender") and "\n\n" in body
    assert len({b.split("\n\n", 1)[1] for b in bodies}) == 5  # no two bodies alike


@pytest.mark.skipif(WHY is not None, reason=f"cannot run SpamAssassin here: {WHY}")
def test_spamassassin_costs_cpu_per_message_and_more_for_a_larger_one():
    small, large = scanner.measure(2, 15), scanner.measure(20, 15)
    assert 0 < small < large  # its body rules run over every line (up to body_part_scan_size)
