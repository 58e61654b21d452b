"""Message sizes as documented (docs/platform.md §B, docs/inbound.md "Message sizes"): the mail that reaches
DATA (ham and spam as the stages before DATA leave them) follows the documented CDF: 49 % below 4 KB, 80 %
below 16 KB, 95.7 % below 256 KB, 98.5 % below 1 MB (Gomes et al. 2004; a list-mail CDF of 2002)."""

from __future__ import annotations

import math

import pytest

import twin
from tests.helpers import BASELINE

DOCUMENTED = {4: 0.49, 16: 0.80, 256: 0.957, 1024: 0.985}  # KB -> share of messages below
SCANNED_STAGES = [
    "store",
    "quarantine",
    "spool",
    "attachment",
    "virus",
    "internet",
    "550 5.1.1 mailbox unknown",
]


@pytest.fixture(scope="module")
def scanned_sizes():
    # A whole weekday, for the day's mix of ham and spam (ham peaks in working hours, spam is flat); a tenth
    # of the volume keeps it quick, and the shares per message do not depend on the volume.
    sc = twin.load_scenario(
        BASELINE, ["clock.horizon=1d", "clock.drain=10m", "workload.inbound.volume=140000/day"]
    )
    ledger = twin.simulate(sc, seed=5).ledger
    original = ledger[(ledger["parent_id"] == -1) & ledger["stage"].isin(SCANNED_STAGES)]
    return original.drop_duplicates("msg_id")["size"].to_numpy()


def test_the_scanned_mail_follows_the_documented_size_cdf(scanned_sizes):
    n = len(scanned_sizes)
    assert n > 30_000
    for kb, documented in DOCUMENTED.items():
        share = float((scanned_sizes < kb * 1024).mean())
        # 4 binomial standard errors of a share of n messages, and 0.3 points for the quantile table
        # (solved for a ham share of 31 % of the scanned mail, written to three digits)
        tolerance = 4 * math.sqrt(documented * (1 - documented) / n) + 0.003
        assert abs(share - documented) <= tolerance, (kb, share, documented, tolerance)
