"""mailtwin as a user installs it: the wheel, in a fresh venv outside the repository, runs a shipped scenario
by name (``mailtwin run baseline``) and renders its report from the packaged template."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

OFFLINE = ("Could not find a version", "No matching distribution", "Failed to establish a new connection")


def run(cmd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, **kw)


def test_the_wheel_runs_the_shipped_baseline_outside_the_repository(tmp_path):
    # Built from a copy: pip builds in the source tree and would leave build/ and *.egg-info in the checkout.
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(".venv", ".git", "reports", "build", "*.egg-info", "__pycache__", ".*cache")
    shutil.copytree(ROOT, src, symlinks=True, ignore=skip)
    wheels = tmp_path / "wheels"
    built = run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", str(src), "-w", str(wheels)])
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob("mailtwin-*.whl")
    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    installed = run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)])
    if installed.returncode != 0 and any(s in installed.stderr for s in OFFLINE):
        pytest.skip("the wheel's dependencies cannot be downloaded here (no package registry reachable)")
    assert installed.returncode == 0, installed.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cmd = [str(venv / "bin" / "mailtwin"), "run", "baseline", "--set", "clock.horizon=10m"]
    cmd += ["--set", "clock.drain=2m", "--no-progress"]
    done = run(cmd, cwd=elsewhere)
    assert done.returncode == 0, done.stderr[-3000:]
    out = elsewhere / "reports" / "baseline"
    assert json.loads((out / "kpis.json").read_text())["conservation_ok"]
    assert json.loads((out / "run.json").read_text())["source"] == "baseline"
    assert "<h1>baseline</h1>" in (out / "report.html").read_text()
    twin_file = run([str(venv / "bin" / "python"), "-c", "import twin; print(twin.__file__)"], cwd=elsewhere)
    assert str(venv) in twin_file.stdout  # the installed copy ran, not the repository's
