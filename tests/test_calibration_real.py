"""The disk operations the baseline counts for the store's LMTP delivery, and the frontend's spool writes
docs/calibration.md reports, checked against the real software: Exim 4 receiving and delivering by LMTP to
Dovecot, on loopback (bench/calibrate.py; .ci/run installs exim4-daemon-light, dovecot-lmtpd and strace)."""

from __future__ import annotations

import importlib.util
import shutil

import pytest

import twin
from tests.helpers import BASELINE, ROOT

spec = importlib.util.spec_from_file_location("calibrate", ROOT / "bench" / "calibrate.py")
calibrate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(calibrate)

WHY = calibrate.missing() or (None if shutil.which("strace") else "strace not installed (Debian: strace)")
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"cannot run the real Exim and Dovecot here: {WHY}")


@pytest.fixture(scope="module")
def calls():
    return calibrate.count_syscalls(2, 40)


def test_exim_fsyncs_three_times_receiving_and_once_delivering(calls):
    # docs/calibration.md: the data file, the header file and the spool directory before the reply to the
    # end of DATA; one more while delivering: the 4 writes behind the baseline's frontend disk demand.
    assert calls["receive"]["fsync"] == pytest.approx(3, abs=0.1)
    assert calls["deliver"]["fsync"] == pytest.approx(1, abs=0.1)


def test_the_stores_synchronous_writes_a_delivery_match_the_baseline(calls):
    # the baseline: one write of the message on the RAID array and metadata_ops on the SAN (Cyrus's index,
    # cache and quota); Dovecot's LMTP syncs the message and its index and log files
    sc = twin.load_scenario(BASELINE)
    modelled = 1 + sc.platform.store.metadata_ops
    measured = calls["lmtp"]["fsync"] + calls["lmtp"]["fdatasync"]
    assert calls["lmtp"]["fsync"] == pytest.approx(1, abs=0.1)
    assert measured == pytest.approx(modelled, abs=1.0)


def test_the_cpu_of_a_message_is_measured_for_each_step():
    row = calibrate.measure_size(2, 100, 5)
    for key in ("receive_cpu_ms", "deliver_cpu_ms", "lmtp_cpu_ms"):
        assert 0 < row[key] < 100, key  # a few ms on any machine of the last 15 years
