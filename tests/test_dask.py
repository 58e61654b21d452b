"""The same runs through the local pool and a Dask cluster give the same results (twin/experiments/
executor.py): a 2-point x 3-seed sweep on a ``LocalCluster``, and the ``sweep`` command against a scheduler
and workers started as separate processes on loopback (``dask scheduler``, ``dask worker``: the
``distributed`` package installs them into the venv)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import network, station
from twin.cli import main
from twin.experiments.executor import DaskPool, LocalPool
from twin.experiments.sweep import grid, parse_vary, sweep

distributed = pytest.importorskip("distributed", reason="the distributed package is a project dependency")

RHO = "components.s1.utilisation"
WAIT = "components.s1.mean_wait"


def _without_run(result: dict) -> str:
    """A run's KPIs without run.json (its wall time and host differ from place to place)."""
    return json.dumps({k: v for k, v in result.items() if k != "run"}, sort_keys=True)


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dask") / "mm1.yaml"
    data = network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "0.5/s"}], horizon="30m")
    path.write_text(json.dumps(data))
    return path


def test_a_sweep_on_a_local_cluster_equals_the_local_pool(scenario_file):
    points = grid(str(scenario_file), [], [parse_vary("workload.scale=1,1.5")])
    seeds = [1, 2, 3]
    local = sweep(points, seeds, [RHO, WAIT], 0.95, LocalPool(2))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        distributed.Client(c) as client,
    ):
        pool = DaskPool(client)
        assert pool.workers == 2
        dask = sweep(points, seeds, [RHO, WAIT], 0.95, pool)
    for (p1, r1), (p2, r2) in zip(local, dask, strict=True):
        assert p1.id == p2.id
        assert {s: _without_run(r) for s, r in r1.runs.items()} == {
            s: _without_run(r) for s, r in r2.runs.items()
        }
        assert r1.estimates() == r2.estimates()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask_command() -> list[str]:
    here = Path(sys.executable).parent / "dask"
    return [str(here)] if here.exists() else [shutil.which("dask") or "dask"]


def test_the_sweep_command_on_a_scheduler_and_workers_of_their_own(scenario_file, tmp_path, capsys):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    dask = _dask_command()
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        procs.append(
            subprocess.Popen(
                [*dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        args = ["sweep", str(scenario_file), "--vary", "workload.scale=1,1.5", "--seeds", "3", "--kpi", RHO]
        assert main([*args, "--out", str(tmp_path / "local"), "--jobs", "2"]) == 0
        assert main([*args, "--out", str(tmp_path / "dask"), "--dask", address]) == 0
        local = pd.read_csv(tmp_path / "local" / "summary.csv")
        remote = pd.read_csv(tmp_path / "dask" / "summary.csv")
        pd.testing.assert_frame_equal(local, remote)
        manifest = json.loads((tmp_path / "dask" / "experiment.json").read_text())
        assert address in manifest["executor"]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_an_address_nobody_answers_at_is_bad_input(scenario_file, capsys):
    port = _free_port()
    started = time.monotonic()
    code = main(["replicate", str(scenario_file), "--seeds", "2", "--dask", f"tcp://127.0.0.1:{port}"])
    assert code == 2
    assert "no Dask scheduler answers" in capsys.readouterr().err
    assert time.monotonic() - started < 60
