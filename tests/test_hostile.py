"""Every bad input of ``tests/hostile.py``: exit 2, exactly the one line it must print, nothing written, and
no traceback; the valid controls among them run."""

from __future__ import annotations

import os

import pytest

from tests.hostile import CASES, fill, prepare
from twin.cli import main


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_one_line_and_exit_2(case, tmp_path, capsys, monkeypatch):
    if "not-root" in case.tags and os.geteuid() == 0:
        pytest.skip("root may write anywhere: a read-only place cannot be made for this user")
    monkeypatch.chdir(tmp_path)  # a default --out (reports/...) would land here
    argv = prepare(case, tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert run_cli(argv) == case.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith(("usage:", " "))]
    assert "Traceback" not in err
    if case.code == 2:
        assert lines == fill(case.expect, tmp_path).split("\n")
        assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 200
