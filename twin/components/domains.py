"""The remote domains mail goes to (``workload.remote``): how popular each is, which greylist, and when each
cannot be reached (random and scheduled periods). The workload draws outbound recipients from it
(``pick``); the Internet component (``remote.py``) answers the frontends' deliveries with it."""

from __future__ import annotations

from bisect import bisect_right

import numpy as np


class Domains:
    """The remote domains: popularity, greylisting, unreachable periods. Domain ``d`` is the (d+1)-th most
    popular; its name is ``names[d]`` or ``domain{d+1}``."""

    def __init__(self, streams, spec, end: float):
        n = spec.domains
        self.spec = spec
        self.count = n
        weights = np.arange(1, n + 1, dtype=float) ** -spec.popularity
        self._cdf = np.cumsum(weights) / weights.sum()
        rng = streams.generator("workload.remote.population")
        self.greylists = (rng.random(n) < spec.greylisting).tolist()
        # Unreachable periods per domain: [start0, end0, start1, end1, ...], sorted and merged.
        periods: dict[int, list[tuple[float, float]]] = {}
        if spec.failures is not None:
            self._random_failures(streams, spec.failures, end, periods)
        for o in spec.outages:
            periods.setdefault(spec.index(o.domain), []).append((o.at, o.end))
        self.down: dict[int, list[float]] = {d: _merged(p) for d, p in periods.items()}

    def _random_failures(self, streams, failures, end: float, periods) -> None:
        """Alternating up (MTBF) and down (MTTR) periods of every domain from time 0, drawn for all domains
        at once, period after period."""
        rng = streams.generator("workload.remote.failures")
        up, down = failures.mtbf.draw_fn(rng), failures.mttr.draw_fn(rng)
        t = np.zeros(self.count)
        alive = np.arange(self.count)
        while len(alive):
            start = t[alive] + up(len(alive))
            stop = start + down(len(alive))
            keep = start < end
            alive, start, stop = alive[keep], start[keep], stop[keep]
            for d, a, b in zip(alive.tolist(), start.tolist(), stop.tolist(), strict=True):
                periods.setdefault(d, []).append((a, b))
            t[alive] = stop

    def name(self, d: int) -> str:
        names = self.spec.names
        return names[d] if d < len(names) else f"domain{d + 1}"

    def pick(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` destination domains drawn by popularity."""
        return np.minimum(np.searchsorted(self._cdf, rng.random(k), side="right"), self.count - 1)

    def reachable(self, d: int, t: float) -> bool:
        periods = self.down.get(d)
        return periods is None or not bisect_right(periods, t) & 1

    def reachable_throughout(self, d: int, t0: float, t1: float) -> bool:
        periods = self.down.get(d)
        if periods is None:
            return True
        i = bisect_right(periods, t0)
        return not i & 1 and (i == len(periods) or periods[i] > t1)

    def unreachable_time(self, d: int, t0: float, t1: float) -> float:
        """Seconds of [t0, t1] in which domain ``d`` cannot be reached."""
        p = self.down.get(d, ())
        return sum(max(0.0, min(b, t1) - max(a, t0)) for a, b in zip(p[::2], p[1::2], strict=True))


def _merged(periods: list[tuple[float, float]]) -> list[float]:
    out: list[float] = []
    for a, b in sorted(periods):
        if out and a <= out[-1]:
            out[-1] = max(out[-1], b)
        else:
            out += [a, b]
    return out
