"""Random streams keyed by the stable path of a component and purpose (docs/architecture.md principle 3).

Each stream is a numpy Generator seeded from ``SeedSequence(root_seed, spawn_key=hash(path))``. The key
is a cryptographic hash of the path text, so it does not depend on the order in which components are
built: adding a scanner leaves every other component's draws as they were.
"""

from __future__ import annotations

import hashlib

import numpy as np

from twin.scenario.distributions import Sampler


def path_key(path: str) -> tuple[int, ...]:
    digest = hashlib.blake2b(path.encode("utf-8"), digest_size=16).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class Streams:
    """Hands out one Generator per path, and refuses to hand out the same path twice."""

    def __init__(self, seed: int):
        if seed < 0:
            raise ValueError(f"seed must be >= 0 (got {seed})")
        self.seed = int(seed)
        self._issued: set[str] = set()

    def generator(self, path: str) -> np.random.Generator:
        if path in self._issued:
            # Two users of one stream would draw the same numbers: always a wiring bug.
            raise ValueError(f"random stream {path!r} was already handed out")
        self._issued.add(path)
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=path_key(path))
        return np.random.Generator(np.random.PCG64(ss))

    def sampler(self, path: str, dist) -> Sampler:
        """A batched sampler of a scenario distribution on its own stream."""
        return dist.sampler(self.generator(path))
