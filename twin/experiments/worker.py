"""A replication worker: reads a pickled (scenario, seed) from standard input, runs it, and writes the
pickled result (``replications.run_one``) to standard output."""

from __future__ import annotations

import pickle
import sys

from twin.experiments.replications import run_one


def main() -> None:
    scenario, seed = pickle.load(sys.stdin.buffer)
    result = run_one(scenario, seed)
    sys.stdout.buffer.write(pickle.dumps(result))
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
