"""The directory services against the real software (bench/calibrate_directory.py, docs/calibration.md):
Debian's slapd and krb5kdc answer the operations the baseline charges LDAP and the KDC for, and the
baseline's demands are not below what they cost."""

from __future__ import annotations

import socket
import sys
import tempfile
from pathlib import Path

import pytest

import twin
from tests.helpers import BASELINE, ROOT

sys.path.insert(0, str(ROOT / "bench"))
import calibrate_directory as directory  # bench/ is not a package: put on sys.path above
from calibrate import SPEED_RATIO

WHY = directory.missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"cannot run the real slapd and krb5kdc here: {WHY}")


@pytest.fixture(scope="module")
def measured():
    return directory.measure(users=300, operations=300, warmup=10)


def test_a_simple_bind_is_refused_with_a_wrong_password():
    """The hand-made BER of the bind loop is a real LDAP bind: slapd accepts the password and refuses
    another (invalidCredentials, 49)."""
    with tempfile.TemporaryDirectory() as tmp, directory.Slapd(Path(tmp), 3) as ldap:
        dn = f"uid=user1,ou=people,{directory.SUFFIX}"
        for password, code in ((directory.PASSWORD, 0), ("wrong", 49)):
            with socket.create_connection(("127.0.0.1", ldap.port), timeout=10) as s:
                s.sendall(directory.bind_request(1, dn, password))
                assert directory.bind_result(s.recv(4096)) == code


def test_each_operation_costs_the_daemon_cpu(measured):
    for name in ("ldap_search", "ldap_bind", "kdc_as", "kdc_tgs"):
        assert 0 < measured[name]["cpu_ms"] < 20, name  # well under a millisecond on any recent core


def test_the_baselines_directory_demands_are_not_below_the_measured_cost(measured):
    """The baseline charges one LDAP demand for a lookup or a bind and one KDC demand for a login; on the
    reference core they must cover what slapd and krb5kdc cost here (times the speed ratio)."""
    sc = twin.load_scenario(BASELINE)
    ldap = sc.platform.ldap.demand.mean
    kdc = sc.platform.kdc.demand.mean
    assert ldap * 1000 >= SPEED_RATIO * max(
        measured["ldap_search"]["cpu_ms"], measured["ldap_bind"]["cpu_ms"]
    )
    assert kdc * 1000 >= SPEED_RATIO * measured["kdc_tgs"]["cpu_ms"]
