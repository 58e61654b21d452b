"""Independent replications of one scenario (seeds 1..n), each in its own worker process.

Each replication returns its KPIs; a replication that fails returns ``{"error": "..."}`` instead, and the
others go on (docs/architecture.md principle 7).

A worker is a fresh ``python -m twin.experiments.worker`` that gets (scenario, seed) pickled on its
standard input and writes its result the same way; threads of this process only wait for them. Unlike a
multiprocessing pool, nothing imports the caller's ``__main__`` again, so ``replicate`` works from a plain
script without an ``if __name__ == "__main__":`` guard, and no half-copied threads come along as with fork.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import traceback

from twin.scenario.schema import Scenario


def run_one(scenario: Scenario, seed: int) -> dict:
    """One replication in this process: its KPIs and run facts, or its error."""
    import twin

    try:
        res = twin.simulate(scenario, seed=seed)
    except Exception as exc:  # captured into this run's result, by design
        return {"seed": seed, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return {**res.kpis, "run": res.run}


def in_worker(scenario: Scenario, seed: int) -> dict:
    """``run_one`` in a fresh worker process (this thread only waits for it); a worker that dies is this
    run's error."""
    done = subprocess.run(
        [sys.executable, "-m", "twin.experiments.worker"],
        input=pickle.dumps((scenario, seed)),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return {"seed": seed, "error": f"worker exited with {done.returncode}: {tail[0]}"}
    return pickle.loads(done.stdout)


def replicate(scenario: Scenario, seeds: list[int] | range, workers: int | None = None) -> list[dict]:
    """KPIs of one run per seed, in seed order. ``workers`` defaults to the number of CPU cores."""
    return run_many([(scenario, s) for s in seeds], workers)


def run_many(runs: list[tuple[Scenario, int]], workers: int | None = None) -> list[dict]:
    """KPIs of each (scenario, seed), in the order given, ``workers`` at a time (default: the CPU cores)."""
    from twin.experiments.executor import LocalPool, in_order

    return in_order(LocalPool(workers), runs)
