"""A results folder is whole or untouched: checked and locked before the run, written beside the old one and
swapped in at the end; an interrupt, SIGTERM or a crash leaves the old folder byte-identical with nothing
behind; exit codes say what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import twin
from tests.helpers import ROOT, network, station
from twin.cli import main
from twin.io import ResultsFolder
from twin.results import Results

SMALL = network({"s1": station()}, [{"name": "a", "enter": "s1", "rate": "0.5/s"}], horizon="20m")


@pytest.fixture
def scenario(tmp_path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.endswith((".staging", ".tmp")))


@pytest.fixture
def earlier(scenario, tmp_path) -> Path:
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--seed", "1"]) == 0
    return out


def test_a_rerun_leaves_no_file_of_the_earlier_run(scenario, earlier):
    assert (earlier / "ledger.parquet").exists()
    argv = ["run", str(scenario), "--out", str(earlier), "--seed", "2", "--set", "outputs.ledger=false"]
    assert main(argv) == 0
    assert not (earlier / "ledger.parquet").exists()
    assert leftovers(earlier.parent) == []


def test_a_crash_while_writing_leaves_the_old_folder_as_it_was(scenario, earlier, monkeypatch, capsys):
    before = snapshot(earlier)
    real = Results.write

    def crash(self, out, source=""):
        (out / "kpis.json").write_text("{}")  # something is written already
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Results, "write", crash)
    assert main(["run", str(scenario), "--out", str(earlier), "--seed", "2"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "mailtwin: internal error: RuntimeError: disk on fire at twin/"
    )
    assert err[0].endswith("a bug; rerun with --debug for the traceback and report it")
    assert snapshot(earlier) == before and leftovers(earlier.parent) == []
    monkeypatch.setattr(Results, "write", real)


def test_debug_shows_the_traceback_and_still_exits_3(scenario, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(twin, "simulate", lambda *a, **k: 1 / 0)
    assert main(["--debug", "run", str(scenario), "--out", str(tmp_path / "o")]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
    assert not (tmp_path / "o").exists() and leftovers(tmp_path) == []


def test_sigterm_while_writing_leaves_the_old_folder_and_says_so(scenario, earlier, monkeypatch, capsys):
    before = snapshot(earlier)
    real = Results.write

    def killed(self, out, source=""):
        written = real(self, out, source)
        os.kill(os.getpid(), signal.SIGTERM)  # as if `kill` came in the middle of the save
        time.sleep(1)
        return written

    monkeypatch.setattr(Results, "write", killed)
    assert main(["run", str(scenario), "--out", str(earlier), "--seed", "2"]) == 143
    assert capsys.readouterr().err == f"mailtwin: SIGTERM; {earlier} was left as it was\n"
    assert snapshot(earlier) == before and leftovers(earlier.parent) == []


def test_sigint_in_a_real_process_leaves_the_old_folder(scenario, earlier):
    before = snapshot(earlier)
    longer = ["--set", "clock.horizon=30d", "--set", "workload.sources[0].rate=50/s"]
    cmd = [sys.executable, "-m", "twin", "run", str(scenario), "--out", str(earlier), *longer]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lock = earlier.parent / ".out.lock"
    deadline = time.time() + 60
    while time.time() < deadline and not (lock.exists() and lock.read_text().strip() == str(proc.pid)):
        time.sleep(0.1)  # the run holds its lock: it is simulating now
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == f"mailtwin: interrupted; {earlier} was left as it was"
    assert snapshot(earlier) == before and leftovers(earlier.parent) == []


def test_a_second_run_into_a_folder_in_use_is_refused(scenario, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    called = []
    monkeypatch.setattr(twin, "simulate", lambda *a, **k: called.append(1))
    with ResultsFolder(out):
        assert main(["run", str(scenario), "--out", str(out)]) == 2
    assert (
        capsys.readouterr().err == f"--out {out}: another mailtwin run is writing there (pid {os.getpid()})\n"
    )
    assert called == []  # refused before simulating


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: (t / "f").write_text("x") and t / "f", "exists and is not a folder"),
        (lambda t: (t / "f").write_text("x") and t / "f" / "sub", "{T}/f is not a folder"),
        (lambda t: t / ("x" * 256), "a name in the path is longer than 255 bytes"),
    ],
)
def test_a_bad_out_is_refused_before_the_run(make, message, scenario, tmp_path, capsys, monkeypatch):
    out = make(tmp_path)
    monkeypatch.setattr(twin, "simulate", lambda *a, **k: pytest.fail("simulated although --out is bad"))
    assert main(["run", str(scenario), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"--out {out}: {message.replace('{T}', str(tmp_path))}\n"


def test_conservation_violated_exits_1(scenario, tmp_path, monkeypatch):
    real = twin.simulate

    def broken(*a, **k):
        res = real(*a, **k)
        res.kpis["conservation_ok"] = False
        return res

    monkeypatch.setattr(twin, "simulate", broken)
    assert main(["run", str(scenario), "--out", str(tmp_path / "o")]) == 1
    assert (tmp_path / "o" / "kpis.json").exists()  # the results are written: they show what went wrong


def test_the_api_saves_whole_folders_too(tmp_path):
    res = twin.simulate(twin.scenario_from_dict(SMALL), seed=1)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "stale.txt").write_text("from before")
    written = res.save(tmp_path / "o")
    assert not (tmp_path / "o" / "stale.txt").exists()
    assert all(p.exists() and p.is_relative_to(tmp_path / "o") for p in written)
    assert leftovers(tmp_path) == []


def test_a_full_disk_is_said_plainly_and_the_old_folder_stays(scenario, earlier, monkeypatch, capsys):
    before = snapshot(earlier)

    def full(self, out, source=""):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Results, "write", full)
    assert main(["run", str(scenario), "--out", str(earlier), "--seed", "2"]) == 2
    assert capsys.readouterr().err == (
        f"--out {earlier}: cannot write the results (no space left on device); it was left as it was\n"
    )
    assert snapshot(earlier) == before and leftovers(earlier.parent) == []
