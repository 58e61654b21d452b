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
    # The fault-free baseline: connect-time refusals, the stages, LMTP, quota deferrals, Mailman's lists.
    "baseline-30m": (
        ["clock.horizon=30m", "clock.drain=5m"],
        "7605e368b2b50caf3cc4a9979354646a5069e2749d6f3f3a46d600170f6f8370",
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
        "fc8e6df308b3940749c7692c03bb5d68f703a73c951132e6e82f4b43a7da8b6b",
    ),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_ledger_is_the_golden_one(name):
    overrides, golden = RUNS[name]
    res = twin.simulate(twin.load_scenario(BASELINE, overrides), seed=1)
    assert res.kpis["recipients"]["offered"] > 30_000  # a run that did something
    assert fingerprint(res.ledger) == golden
