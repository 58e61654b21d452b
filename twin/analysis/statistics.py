"""Statistics over independent replications: means with Student-t confidence intervals."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    mean: float
    half_width: float  # of the confidence interval at `level`
    level: float
    n: int

    @property
    def relative_half_width(self) -> float:
        return self.half_width / abs(self.mean) if self.mean else float("inf")

    def covers(self, value: float) -> bool:
        return abs(self.mean - value) <= self.half_width

    def __str__(self) -> str:
        return f"{self.mean:.4g} ± {self.half_width:.2g} ({self.level:.1%} CI, n={self.n})"


def confidence_interval(values: Iterable[float], level: float = 0.99) -> Estimate:
    """Mean and half-width t_{(1+level)/2, n-1} * s / sqrt(n) of independent, identical replications."""
    x = np.asarray(list(values), dtype=float)
    n = len(x)
    if n < 2:
        raise ValueError("a confidence interval needs at least 2 replications")
    half = float(stats.t.ppf((1 + level) / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Estimate(float(x.mean()), half, level, n)


def welch_half_width(a: Iterable[float], b: Iterable[float], level: float = 0.95) -> float:
    """Half-width of Welch's interval for mean(b) - mean(a) from two independent samples (each of at
    least 2): t at the Welch-Satterthwaite degrees of freedom times sqrt(s_a²/n_a + s_b²/n_b)."""
    xa, xb = np.asarray(list(a), dtype=float), np.asarray(list(b), dtype=float)
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    se2 = va + vb
    if se2 == 0:
        return 0.0
    df = se2**2 / ((va**2 / (len(xa) - 1) if va else 0.0) + (vb**2 / (len(xb) - 1) if vb else 0.0))
    return float(stats.t.ppf((1 + level) / 2, df) * np.sqrt(se2))
