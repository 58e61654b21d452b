"""Distributions a scenario can give for service demands, sizes and counts.

``{dist: exponential, mean: 50ms}``, ``{dist: constant, value: 2}``, ``{dist: lognormal, median: 4KB,
sigma: 1.2}``, ``{dist: empirical, points: [...]}`` or ``{dist: empirical, quantiles: [[0, 1KB], ...]}``.

The same four shapes exist for each kind of quantity (durations, sizes, plain numbers) so that units are
checked where the file is read. ``sampler(rng)`` turns a validated distribution into a fast, batched
sampler; the hot path never sees a pydantic object.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.scenario.quantities import Count, Duration, Real, Size

BATCH = 4096


Sampler = Callable[[], float]


def batched(draw: Callable[[int], np.ndarray]) -> Sampler:
    """A sampler: one value per call, taken from batches ``draw(BATCH)``. The batches become lists of
    Python floats handed out by a C-level iterator, so a call costs about as much as a list index."""

    def batches():
        while True:
            yield np.asarray(draw(BATCH), dtype=np.float64).tolist()

    return itertools.chain.from_iterable(batches()).__next__


def total(sample: Sampler, n: int) -> float:
    """The sum of ``n`` values of ``sample`` (n draws, taken in C)."""
    return sample() if n == 1 else sum(itertools.islice(iter(sample, None), n))


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def draw_fn(self, rng: np.random.Generator):  # pragma: no cover - every subclass overrides
        raise TypeError(type(self).__name__)

    def sampler(self, rng: np.random.Generator) -> Sampler:
        return batched(self.draw_fn(rng))

    @property
    def mean(self) -> float:  # pragma: no cover - every subclass overrides
        raise TypeError(type(self).__name__)

    def can_be_zero(self) -> bool:
        """Whether a draw can be exactly 0 with a positive probability."""
        return False


def _family(quantity: Any, suffix: str):
    """The four distribution models for one quantity type (Duration, Size or float)."""

    class Constant(_Dist):
        dist: Literal["constant"]
        value: quantity = Field(ge=0)

        def draw_fn(self, rng):
            v = self.value
            return lambda n: np.full(n, v)

        @property
        def mean(self):
            return self.value

        def can_be_zero(self):
            return self.value == 0

    class Exponential(_Dist):
        dist: Literal["exponential"]
        mean_: quantity = Field(alias="mean", gt=0)

        model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

        def draw_fn(self, rng):
            m = self.mean_
            return lambda n: rng.exponential(m, n)

        @property
        def mean(self):
            return self.mean_

    class Lognormal(_Dist):
        dist: Literal["lognormal"]
        median: quantity = Field(gt=0)
        sigma: Real = Field(ge=0)

        def draw_fn(self, rng):
            mu, s = math.log(self.median), self.sigma
            return lambda n: rng.lognormal(mu, s, n)

        @property
        def mean(self):
            return self.median * math.exp(self.sigma**2 / 2)

    class Empirical(_Dist):
        dist: Literal["empirical"]
        points: list[quantity] | None = Field(default=None, min_length=1)
        quantiles: list[tuple[Real, quantity]] | None = Field(default=None, min_length=2)

        @model_validator(mode="after")
        def _one_form(self):
            if (self.points is None) == (self.quantiles is None):
                raise ValueError("give exactly one of 'points' or 'quantiles'")
            if self.quantiles is not None:
                ps = [p for p, _ in self.quantiles]
                vs = [v for _, v in self.quantiles]
                if ps[0] != 0 or ps[-1] != 1:
                    raise ValueError(
                        f"quantiles must start at probability 0 and end at 1 (got {ps[0]} .. {ps[-1]})"
                    )
                if any(b <= a for a, b in itertools.pairwise(ps)):
                    raise ValueError("quantile probabilities must increase strictly")
                if any(b < a for a, b in itertools.pairwise(vs)):
                    raise ValueError("quantile values must not decrease")
            if any(v < 0 for v in self._values()):
                raise ValueError("values must be >= 0")
            return self

        def can_be_zero(self):
            if self.points is not None:
                return 0 in self.points
            vs = [v for _, v in self.quantiles]
            return any(a == b == 0 for a, b in itertools.pairwise(vs))

        def _values(self):
            return self.points if self.points is not None else [v for _, v in self.quantiles]

        def draw_fn(self, rng):
            if self.points is not None:
                pts = np.asarray(self.points, dtype=float)
                return lambda n: pts[rng.integers(0, len(pts), n)]
            ps = np.array([p for p, _ in self.quantiles])
            vs = np.array([v for _, v in self.quantiles], dtype=float)
            # Inverse-CDF sampling with linear interpolation between the given quantiles.
            return lambda n: np.interp(rng.random(n), ps, vs)

        @property
        def mean(self):
            if self.points is not None:
                return float(np.mean(self.points))
            ps = np.array([p for p, _ in self.quantiles])
            vs = np.array([v for _, v in self.quantiles], dtype=float)
            return float(np.sum(np.diff(ps) * (vs[1:] + vs[:-1]) / 2))

    for cls in (Constant, Exponential, Lognormal, Empirical):
        cls.__name__ = cls.__qualname__ = f"{cls.__name__}{suffix}"
        # Module attributes, so that scenarios pickle (worker processes, Dask) like any other model;
        # rebuilt so the JSON Schema names them by these names, not the factory's locals.
        globals()[cls.__name__] = cls
        cls.model_rebuild(force=True)
    union = Annotated[Constant | Exponential | Lognormal | Empirical, Field(discriminator="dist")]
    return union


class ZipfNumber(_Dist):
    """Counts with a power-law tail: P(k) proportional to k^-a for k = 1, 2, ..., cut at ``max`` (larger
    draws are drawn again, so the shape below ``max`` is exactly Zipf's)."""

    dist: Literal["zipf"]
    a: Real = Field(gt=1, description="exponent; larger means a lighter tail")
    max: Count = Field(1000, ge=1, le=100_000)

    def draw_fn(self, rng):
        a, top = self.a, self.max

        def draw(n):
            out = rng.zipf(a, n)
            bad = out > top
            while bad.any():
                out[bad] = rng.zipf(a, int(bad.sum()))
                bad = out > top
            return out.astype(float)

        return draw

    @property
    def mean(self):
        k = np.arange(1, self.max + 1, dtype=float)
        w = k**-self.a
        return float((k * w).sum() / w.sum())


DurationDist = _family(Duration, "Duration")
SizeDist = _family(Size, "Size")
_family(Real, "Number")  # defines ConstantNumber, ExponentialNumber, LognormalNumber, EmpiricalNumber
NumberDist = Annotated[
    ConstantNumber | ExponentialNumber | LognormalNumber | EmpiricalNumber | ZipfNumber,  # noqa: F821
    Field(discriminator="dist"),
]
