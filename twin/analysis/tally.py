"""What the KPIs need from the ledger, gathered block by block in one pass (``Ledger.blocks``) in memory
that does not grow with the run: counts by origin, traffic class, state and stage, the delivery latencies
(in fine histograms), the conservation checks and the spam scores of delivered mail."""

from __future__ import annotations

import math

import numpy as np

from twin.scenario.schema import STATES
from twin.sim.histogram import LatencyHistogram
from twin.sim.ledger import PENDING

__all__ = ["LATENCY_QUANTILES", "LatencyHistogram", "LedgerTally"]

DELIVERED = STATES.index("delivered")
LATENCY_QUANTILES = np.linspace(0.0, 1.0, 1001)  # the CDF the report draws, per traffic class


class LedgerTally:
    def __init__(self, ledger, warmup: float, delivery_within: float, windows=()):
        self.classes = list(ledger.classes.names)
        self.stages = list(ledger.stages.names)
        origins = ledger.origins.names
        self._inbound = origins.index("inbound") if "inbound" in origins else -1
        self._warmup = warmup
        self._within = delivery_within
        self._shape = (2, max(len(self.classes), 1), len(STATES), len(self.stages))
        # Recipients by [inbound original?, traffic class, state, stage]: every count derives from this.
        self.counts = np.zeros(self._shape, dtype=np.int64)
        self.rows = 0
        self.inconsistent = 0  # rows whose final time disagrees with their state
        self._latency = [LatencyHistogram() for _ in range(self._shape[1])]
        # per traffic class: recipients offered after the warm-up and delivered within the quality target
        self.within = np.zeros(self._shape[1], dtype=np.int64)
        self.inbound_delivered = 0  # original inbound recipients delivered, and of them within the target
        self.inbound_delivered_within = 0
        self.scanned = 0
        self.delivered_scores = np.zeros(101, dtype=np.int64)  # delivered recipients by spam score
        # Incident windows [start, end): the longest delivery latency of the recipients offered in each
        self.windows = list(windows)
        self.window_max = [math.nan] * len(self.windows)

    def add(self, b: dict[str, np.ndarray]) -> None:
        """One block of ledger rows (``{column: array}``)."""
        state, cls, stage = b["state"], b["traffic_class"], b["stage"]
        inbound = (b["origin"] == self._inbound) & (b["parent_id"] == -1)
        _, n_cls, n_state, n_stage = self._shape
        code = ((inbound.astype(np.int64) * n_cls + cls) * n_state + state) * n_stage + stage
        self.counts += np.bincount(code, minlength=self.counts.size).reshape(self._shape)
        self.rows += len(state)
        self.inconsistent += int(np.count_nonzero(~np.isnan(b["t_final"]) == (state == PENDING)))
        delivered = state == DELIVERED
        latency = b["t_final"] - b["t_offered"]
        # Like the stations' statistics, latencies leave out what was offered during the warm-up.
        after = delivered & (b["t_offered"] >= self._warmup)
        if after.any():
            for c in np.unique(cls[after]).tolist():
                self._latency[c].add(latency[after & (cls == c)])
            self.within += np.bincount(cls[after & (latency <= self._within)], minlength=len(self.within))[
                : len(self.within)
            ]
        if self.windows and delivered.any():
            t = b["t_offered"]
            for k, (start, end) in enumerate(self.windows):
                caught = delivered & (t >= start) & (t < end)
                if caught.any():
                    m = float(latency[caught].max())
                    if not m <= self.window_max[k]:  # also when it is still NaN
                        self.window_max[k] = m
        q = inbound & delivered
        self.inbound_delivered += int(q.sum())
        self.inbound_delivered_within += int(np.count_nonzero(latency[q] <= self._within))
        scanned = b["spam_score"] >= 0
        self.scanned += int(scanned.sum())
        self.delivered_scores += np.bincount(
            b["spam_score"][delivered & scanned].astype(np.int64), minlength=101
        )[:101]

    # -- what the KPIs read ------------------------------------------------------------------------------

    def states(self, inbound_only: bool = False, traffic_class: int | list[int] | None = None) -> np.ndarray:
        """Counts by [state, stage] of all rows, or of the original inbound ones (of one class, or of
        those listed)."""
        c = self.counts[1] if inbound_only else self.counts.sum(axis=0)
        if isinstance(traffic_class, int):
            return c[traffic_class]
        return c[traffic_class].sum(axis=0) if traffic_class is not None else c.sum(axis=0)

    def by_class(self) -> np.ndarray:
        """Counts by [class, state]."""
        return self.counts.sum(axis=(0, 3))

    def by_stage(self) -> np.ndarray:
        """Counts by [stage, state]."""
        return self.counts.sum(axis=(0, 1)).T

    def latencies(self, traffic_class: int | list[int] | None = None) -> LatencyHistogram:
        """Offered-to-delivered seconds of the recipients offered after the warm-up (all classes, one, or
        those listed)."""
        if isinstance(traffic_class, int):
            return self._latency[traffic_class]
        out = LatencyHistogram()
        for c, h in enumerate(self._latency):
            if traffic_class is None or c in traffic_class:
                out = out.merged(h)
        return out
