"""Where an experiment's runs go: worker processes on this machine (``LocalPool``, the default) or an
existing Dask distributed cluster (``DaskPool``, ``--dask ADDRESS``). Both take the same (scenario, seed)
pairs and hand back each run's result as it finishes: its kpis.json with ``run`` (run.json), or
``{"error": ...}`` for a run that failed; a failed run never stops the others.

A run's result depends only on its scenario and seed (the streams are keyed by path under the seed), not
on where it ran, so a sweep gives the same numbers through either executor (tests/test_dask.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed

from twin.experiments.replications import in_worker, run_one
from twin.scenario.schema import Scenario

Run = tuple[Scenario, int]


class LocalPool:
    """``jobs`` worker processes on this machine (default: the CPU cores); one job runs in this process."""

    def __init__(self, jobs: int | None = None):
        self.jobs = jobs or os.cpu_count() or 1

    def __str__(self) -> str:
        return f"{self.jobs} local worker process{'es' if self.jobs > 1 else ''}"

    @property
    def workers(self) -> int:
        return self.jobs

    def results(self, runs: list[Run]) -> Iterator[tuple[int, dict]]:
        """(index into ``runs``, result) of every run, in the order they finish."""
        if self.jobs <= 1 or len(runs) <= 1:
            for i, (scenario, seed) in enumerate(runs):
                yield i, run_one(scenario, seed)
            return
        with ThreadPoolExecutor(max_workers=min(self.jobs, len(runs))) as pool:
            futures = {pool.submit(in_worker, sc, s): i for i, (sc, s) in enumerate(runs)}
            for future in as_completed(futures):
                yield futures[future], future.result()

    def close(self) -> None:
        pass


class DaskPool:
    """The runs as tasks of a Dask distributed cluster: ``address`` of its scheduler (``tcp://host:8786``),
    or a ``distributed.Client`` already connected (a ``LocalCluster``'s, in a notebook or a test)."""

    def __init__(self, address, timeout: float = 10.0):
        from distributed import Client

        if isinstance(address, Client):
            self.client, self._own = address, False
        else:
            try:
                self.client = Client(address, timeout=timeout)
            except (OSError, TimeoutError, ValueError) as exc:
                raise DaskError(f"--dask {address}: no Dask scheduler answers there ({exc})") from None
            self._own = True
        self.address = self.client.scheduler.address

    def __str__(self) -> str:
        return f"the Dask cluster at {self.address} ({self.workers} worker threads)"

    @property
    def workers(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def results(self, runs: list[Run]) -> Iterator[tuple[int, dict]]:
        from distributed import as_completed as dask_completed

        futures = {}
        for i, (scenario, seed) in enumerate(runs):
            futures[self.client.submit(run_one, scenario, seed, pure=False)] = i
        for future in dask_completed(list(futures)):
            i = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # the worker died or the task was lost: this run's error, by design
                result = {"seed": runs[i][1], "error": f"Dask: {type(exc).__name__}: {exc}"}
            yield i, result

    def close(self) -> None:
        if self._own:
            self.client.close()


class DaskError(ValueError):
    """A Dask scheduler that cannot be reached: ``str()`` is the line to print (exit 2)."""


def in_order(pool: LocalPool | DaskPool, runs: list[Run]) -> list[dict]:
    """Every run's result, in the order of ``runs``."""
    out: list = [None] * len(runs)
    for i, result in pool.results(runs):
        out[i] = result
    return out


def executor(jobs: int | None = None, dask=None) -> LocalPool | DaskPool:
    """``DaskPool(dask)`` if an address (or client) is given, else ``LocalPool(jobs)``."""
    return DaskPool(dask) if dask else LocalPool(jobs)


def execute(points, seeds: list[int], pool, folder=None, progress=None) -> dict[tuple[str, int], dict]:
    """The result of every (point, seed) of ``points`` x ``seeds``, keyed by (point id, seed).

    With an experiment ``folder`` (``store.ExperimentFolder``) a run that finished before with the same
    scenario and code is read from it instead of run, and every new result is saved there as it comes.
    ``progress(done, total, reused)`` is called as runs finish (and once at the start)."""
    out: dict[tuple[str, int], dict] = {}
    todo = []
    for point in points:
        for seed in seeds:
            if (point.id, seed) in out:
                continue  # two points with the same scenario: one run serves both
            found = folder.finished(point, seed) if folder is not None else None
            if found is not None:
                out[(point.id, seed)] = found
            else:
                out[(point.id, seed)] = None
                todo.append((point, seed))
    reused, total = len(out) - len(todo), len(out)
    if progress is not None:
        progress(reused, total, reused)
    done = reused
    for i, result in pool.results([(p.scenario, s) for p, s in todo]):
        point, seed = todo[i]
        out[(point.id, seed)] = result
        if folder is not None:
            folder.save(point, seed, result)
        done += 1
        if progress is not None:
            progress(done, total, reused)
    return out
