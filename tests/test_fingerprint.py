"""Golden fingerprints (the OMNeT++ habit): the ledgers of two short baseline runs, pinned.

These may change only in a commit whose message says why the ledger changed (a behaviour the model
gained or lost); a refactoring or a speed-up must leave them as they are. ``fingerprint`` hashes the
ledger's values column by column, so a change of dtype or of category order alone does not count.
"""

from __future__ import annotations

import pytest

import twin
from tests.helpers import BASELINE
from twin.sim.ledger import fingerprint

RUNS = {
    # The fault-free baseline: connect-time refusals, the stages, LMTP, quota deferrals, Mailman's lists,
    # the users' sessions, whose deletions and cleanups decide which mailboxes are full, and the kinds
    # of mailbox with their quotas.
    "baseline-30m": (
        ["clock.horizon=30m", "clock.drain=5m"],
        "d131a781c3c58a9ca4e1b0e33ee9217f7d41deaa5b91f28f9058dedd88a756f0",
    ),
    # A store outage fills the spools (retry rules, delay warnings after 10 min, bounces); a frontend
    # outage sends connections to a dead backend until the balancer notices; Sieve at the store; the
    # quarantine's digests and releases.
    "failover-1h": (
        [
            "clock.horizon=1h",
            "clock.drain=30m",
            "policies.exim.delay_warning=10m",
            "faults=[{kind: outage, target: store, at: 20m, duration: 15m},"
            " {kind: outage, target: fe2, at: 10m, duration: 5m}]",
            "workload.mailboxes.sieve.enabled=true",  # and the mailboxes' Sieve scripts (off in the baseline)
            "policies.quarantine.digest_at=20m",  # the quarantine's digests at 00:20, and releases soon after
            "policies.quarantine.release_delay={dist: exponential, mean: 10m}",
        ],
        "33fe2a125f97a23b9d00633dc953d48f52ea4ae90283d3cb5186a079157f5e41",
    ),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_ledger_is_the_golden_one(name):
    overrides, golden = RUNS[name]
    res = twin.simulate(twin.load_scenario(BASELINE, overrides), seed=1)
    assert res.kpis["recipients"]["offered"] > 30_000  # a run that did something
    assert fingerprint(res.ledger) == golden
