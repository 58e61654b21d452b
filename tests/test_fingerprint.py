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
        "31abd5e3d4cd2ba4c3951a5b1603cf021905ae91be7aa172a532f6711d2521f8",
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
        "f331d79e6ee315ab4203eeeca04867d6cddd3caf83f1bbf4a260e1caf77ea22b",
    ),
}


@pytest.mark.parametrize("name", list(RUNS))
def test_the_ledger_is_the_golden_one(name):
    overrides, golden = RUNS[name]
    res = twin.simulate(twin.load_scenario(BASELINE, overrides), seed=1)
    assert res.kpis["recipients"]["offered"] > 30_000  # a run that did something
    assert fingerprint(res.ledger) == golden
