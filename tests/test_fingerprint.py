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
    # The fault-free baseline: connect-time refusals, the stages, LMTP, quota deferrals, Sieve at the store.
    "baseline-30m": (
        ["clock.horizon=30m", "clock.drain=5m"],
        "0f40746ff06d54a05c0b21b455a73df00eaa206b7fd21b89a01d753cf4d8f4cd",
    ),
    # A store outage fills the spools (retry rules, delay warnings after 10 min, bounces); a frontend
    # outage sends connections to a dead backend until the balancer notices.
    "failover-1h": (
        [
            "clock.horizon=1h",
            "clock.drain=30m",
            "policies.exim.delay_warning=10m",
            "faults=[{kind: outage, target: store, at: 20m, duration: 15m},"
            " {kind: outage, target: fe2, at: 10m, duration: 5m}]",
        ],
        "357c2579fc960c4f0c94ce5d03496cfa4153484abfc9e571f0d042c872625d12",
    ),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_ledger_is_the_golden_one(name):
    overrides, golden = RUNS[name]
    res = twin.simulate(twin.load_scenario(BASELINE, overrides), seed=1)
    assert res.kpis["recipients"]["offered"] > 30_000  # a run that did something
    assert fingerprint(res.ledger) == golden
