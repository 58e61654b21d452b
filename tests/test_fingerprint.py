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
    # The fault-free baseline: connect-time refusals, the stages, LMTP, quota deferrals.
    "baseline-30m": (
        ["clock.horizon=30m", "clock.drain=5m"],
        "d9bd97d24f6910d951c59db7621a6a487d065d7912c1625f438f451e81b3efa7",
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
        "5d60bd837e4a1f39efda7df087d56c9121c037b73dec53c4e55fbe0241a507f8",
    ),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_ledger_is_the_golden_one(name):
    overrides, golden = RUNS[name]
    res = twin.simulate(twin.load_scenario(BASELINE, overrides), seed=1)
    assert res.kpis["recipients"]["offered"] > 30_000  # a run that did something
    assert fingerprint(res.ledger) == golden
