"""A latency histogram in constant memory: the ledger's delivery latencies (``analysis/tally.py``) and the
IMAP/POP commands' (``components/access.py``) and the LMTP exchanges (``components/store.py``) are kept in it
however long the run; ``Latencies`` feeds one an exchange at a time."""

from __future__ import annotations

from array import array

import numpy as np


class LatencyHistogram:
    """Latencies in logarithmic bins 0.23 % wide (1000 a decade, 0.1 ms to 10^8 s): quantiles to within
    that, in constant memory however long the run; count, mean and maximum exact."""

    PER_DECADE = 1000
    LOW = 1e-4  # seconds: shorter latencies share the first bin, [0, LOW)
    DECADES = 12

    def __init__(self):
        self.counts = np.zeros(self.DECADES * self.PER_DECADE + 2, dtype=np.int64)
        self.n = 0
        self.total = 0.0
        self.max = 0.0

    @classmethod
    def edges(cls) -> np.ndarray:
        """Lower edge of each bin: 0, then LOW * 10^(k/PER_DECADE)."""
        k = np.arange(cls.DECADES * cls.PER_DECADE + 1)
        return np.concatenate(([0.0], cls.LOW * 10.0 ** (k / cls.PER_DECADE)))

    def add(self, x: np.ndarray) -> None:
        if not len(x):
            return
        k = np.floor(np.log10(np.maximum(x, self.LOW) / self.LOW) * self.PER_DECADE).astype(np.int64) + 1
        k[x < self.LOW] = 0
        np.minimum(k, len(self.counts) - 1, out=k)
        self.counts += np.bincount(k, minlength=len(self.counts))
        self.n += len(x)
        self.total += float(x.sum())
        self.max = max(self.max, float(x.max()))

    def merged(self, other: LatencyHistogram) -> LatencyHistogram:
        out = LatencyHistogram()
        out.counts = self.counts + other.counts
        out.n, out.total, out.max = self.n + other.n, self.total + other.total, max(self.max, other.max)
        return out

    def quantiles(self, q: np.ndarray) -> np.ndarray:
        """The latency below which a share ``q`` of the deliveries lie, interpolated within its bin."""
        edges = self.edges()
        upper = np.append(edges[1:], np.inf)
        cum = np.cumsum(self.counts)
        target = np.maximum(np.asarray(q, dtype=float) * self.n, 1e-9)  # q = 0: the first non-empty bin
        k = np.minimum(np.searchsorted(cum, target, side="left"), len(cum) - 1)
        before = cum[k] - self.counts[k]
        within = np.where(self.counts[k] > 0, (target - before) / np.maximum(self.counts[k], 1), 0.0)
        top = np.minimum(upper[k], self.max)
        return np.minimum(edges[k] + np.clip(within, 0, 1) * np.maximum(top - edges[k], 0), self.max)

    def summary(self, percentiles=(50, 90, 95, 99)) -> dict[str, float]:
        """Count, mean and maximum (exact) and percentiles (to within a bin, 0.23 %), as in kpis.json."""
        if self.n == 0:
            return {"count": 0}
        out = {"count": self.n, "mean_s": self.total / self.n, "max_s": self.max}
        for p, v in zip(percentiles, self.quantiles(np.array(percentiles) / 100), strict=True):
            out[f"p{p}_s"] = float(v)
        return out


class Latencies:
    """Latencies as exchanges end, one at a time: kept in an array and put into a ``LatencyHistogram``
    every ``FLUSH``; ``late`` counts those above ``within`` (a quality target)."""

    FLUSH = 4096
    __slots__ = ("_pending", "histogram", "late", "within")

    def __init__(self, within: float = float("inf")):
        self.within = within
        self.late = 0
        self.histogram = LatencyHistogram()
        self._pending = array("d")

    def took(self, latency: float) -> None:
        pending = self._pending
        pending.append(latency)
        if latency > self.within:
            self.late += 1
        if len(pending) >= self.FLUSH:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            self.histogram.add(np.frombuffer(self._pending, dtype=np.float64).copy())
            self._pending = array("d")

    def summary(self) -> dict:
        """The histogram's summary, and the share within the target if there is one."""
        self.flush()
        out = self.histogram.summary()
        if self.within != float("inf"):
            out["within_target"] = (1 - self.late / self.histogram.n) if self.histogram.n else None
        return out

    @staticmethod
    def merged(parts) -> LatencyHistogram:
        out = LatencyHistogram()
        for p in parts:
            p.flush()
            out = out.merged(p.histogram)
        return out
