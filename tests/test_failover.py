"""The failover library (scenarios/failover/, docs/failover.md): every scenario is valid, extends the
baseline, states its basis and expectations; an expectation that cannot hold makes `run` and `check` exit
1 and name it; a bad expectation is exit 2 before anything runs. `make test` runs the library itself with
`mailtwin check scenarios/failover`."""

from __future__ import annotations

import pytest

from tests.helpers import ROOT
from twin.cli import main

LIBRARY = sorted((ROOT / "scenarios" / "failover").glob("*.yaml"))
LOST = ROOT / "scenarios" / "failover" / "store-primary-lost.yaml"


def test_the_library_has_a_scenario_per_documented_failure():
    names = {p.stem for p in LIBRARY}
    documented = (ROOT / "docs" / "failover.md").read_text()
    assert len(names) >= 14
    for name in names:
        assert f"`{name}`" in documented, f"{name} is not explained in docs/failover.md"


@pytest.mark.parametrize("path", LIBRARY, ids=[p.stem for p in LIBRARY])
def test_each_scenario_validates_extends_the_baseline_and_says_why(path, capsys):
    text = path.read_text()
    assert "extends: ../baseline.yaml" in text and "expect:" in text
    assert "seed §" in text.lower() or "VMware HA" in text  # the basis of its expectations
    assert main(["validate", str(path)]) == 0


def test_an_expectation_that_cannot_hold_fails_run_and_check(tmp_path, capsys):
    never = ["--set", 'expect=["recipients.lost == 0"]']
    assert main(["check", str(LOST), *never, "--junit", str(tmp_path / "j.xml")]) == 1
    out = capsys.readouterr().out
    assert "FAILED recipients.lost == 0" in out
    assert "<failure" in (tmp_path / "j.xml").read_text()
    assert main(["run", str(LOST), *never, "--out", str(tmp_path / "run")]) == 1
    assert "recipients.lost == 0" in capsys.readouterr().out


def test_a_bad_expectation_in_an_extending_scenario_names_its_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {LOST}\nexpect:\n  - recipients.lots == 0\n")
    assert main(["check", str(bad)]) == 2
    assert f"{bad}:3: expect[0]: no 'lots' in recipients" in capsys.readouterr().out
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith(f"{bad}:3: expect[0]: no 'lots' in recipients")


def test_an_error_in_the_extended_scenario_names_that_file(tmp_path, capsys):
    base = tmp_path / "base.yaml"
    base.write_text((ROOT / "scenarios" / "baseline.yaml").read_text().replace("horizon: 1d", "horizon: -1d"))
    child = tmp_path / "child.yaml"
    child.write_text("extends: base.yaml\nmeta: {name: child}\n")
    assert main(["validate", str(child)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{base}:") and "clock.horizon" in err


@pytest.mark.parametrize(
    ("extends", "message"),
    [
        ("nowhere.yaml", "cannot read file"),
        ("[1, 2]", "expected the path of a scenario file"),
        ("me.yaml", "extends itself"),
    ],
)
def test_extends_that_cannot_be_followed_is_exit_2(tmp_path, capsys, extends, message):
    me = tmp_path / "me.yaml"
    me.write_text(f"extends: {extends}\nmeta: {{name: x}}\n")
    assert main(["validate", str(me)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{me}:1: extends:") and message in err
