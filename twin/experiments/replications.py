"""Independent replications of one scenario (seeds 1..n), run in worker processes.

Each replication returns its KPIs; a replication that fails returns ``{"error": "..."}`` instead, and the
others go on (DESIGN.md principle 7).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import traceback
from concurrent.futures import ProcessPoolExecutor

from twin.scenario.schema import Scenario


def _one(args: tuple[Scenario, int]) -> dict:
    import twin

    scenario, seed = args
    try:
        res = twin.simulate(scenario, seed=seed)
    except Exception as exc:  # captured into this run's result, by design
        return {"seed": seed, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return {**res.kpis, "run": res.run}


def replicate(scenario: Scenario, seeds: list[int] | range, workers: int | None = None) -> list[dict]:
    """KPIs of one run per seed, in seed order. ``workers`` defaults to the number of CPU cores."""
    seeds = list(seeds)
    workers = min(workers or os.cpu_count() or 1, len(seeds))
    if workers <= 1:
        return [_one((scenario, s)) for s in seeds]
    # spawn, not fork: the parent may hold threads (pyarrow, BLAS) that fork would copy half-way.
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
        return list(pool.map(_one, [(scenario, s) for s in seeds]))
