"""Replications in worker processes: from a plain script without a ``__main__`` guard, in seed order, with a
failing replication captured while the others finish."""

from __future__ import annotations

import json
import subprocess
import sys

import twin
from tests.helpers import ROOT, network, station
from twin.experiments.replications import replicate

SMALL = network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "1/s"}], horizon="10m")

SCRIPT = f"""
import json
import twin
from twin.experiments.replications import replicate
sc = twin.scenario_from_dict({SMALL!r})
runs = replicate(sc, [1, 2, 3], workers=2)
print(json.dumps([r["recipients"]["offered"] for r in runs]))
"""


def test_a_script_without_a_main_guard_can_replicate(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    offered = json.loads(done.stdout)
    sc = twin.scenario_from_dict(SMALL)
    assert offered == [twin.simulate(sc, seed=s).kpis["recipients"]["offered"] for s in (1, 2, 3)]


def test_a_failing_replication_is_captured_and_the_others_finish():
    runs = replicate(twin.scenario_from_dict(SMALL), [1, -1, 2], workers=2)
    assert [("error" in r) for r in runs] == [False, True, False]
    assert runs[1]["error"].startswith("ScenarioError: seed: must be a whole number")
    assert runs[0]["run"]["seed"] == 1 and runs[2]["run"]["seed"] == 2
