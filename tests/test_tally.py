"""The one-pass tally of the ledger: its latency histograms against exact quantiles."""

from __future__ import annotations

import numpy as np

from twin.analysis.tally import LatencyHistogram


def test_latency_quantiles_are_within_the_bin_width_and_mean_and_max_exact():
    # Lognormal latencies from milliseconds to hours, added in blocks as the ledger hands them out. Bins
    # are 10^(1/1000) - 1 = 0.23 % wide; interpolating within a bin does better than that.
    x = np.random.default_rng(1).lognormal(0.0, 2.5, 300_000)
    h = LatencyHistogram()
    for block in np.array_split(x, 9):
        h.add(block)
    q = np.array([0.01, 0.5, 0.9, 0.95, 0.99, 0.999])
    assert np.allclose(h.quantiles(q), np.quantile(x, q), rtol=0.0023)
    assert h.n == len(x) and h.max == x.max() and np.isclose(h.total / h.n, x.mean(), rtol=1e-12)
    assert h.quantiles(np.array([1.0]))[0] == x.max()
    assert h.quantiles(np.array([0.0]))[0] <= x.min() * 1.0023


def test_merged_histograms_equal_one_that_saw_everything():
    rng = np.random.default_rng(2)
    a, b = rng.exponential(5, 1000), rng.exponential(50, 2000)
    one, left, right = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    one.add(np.concatenate([a, b]))
    left.add(a)
    right.add(b)
    both = left.merged(right)
    assert (both.counts == one.counts).all() and both.n == one.n and both.max == one.max
    assert np.allclose(both.quantiles(np.linspace(0, 1, 11)), one.quantiles(np.linspace(0, 1, 11)))
