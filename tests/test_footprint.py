"""The memory estimate before a run: its parts, and the refusal (validate and run alike) when a run would not
fit, with ``--force`` to run it anyway."""

from __future__ import annotations

import pytest

import twin
from tests.helpers import BASELINE
from twin.cli import main
from twin.scenario.footprint import (
    BASE,
    MAX_MESSAGES,
    PER_MAILBOX,
    PER_RECIPIENT,
    PER_SAMPLE,
    check_footprint,
    estimate,
)


def test_the_estimate_adds_up_its_parts():
    sc = twin.load_scenario(BASELINE, ["clock.horizon=7d"])
    fp = estimate(sc)
    # 1.4 M messages a day; ~1.2 recipients each; the busiest hour is about twice the mean
    assert 1.4e6 * 7 * 0.9 < fp.messages < 1.4e6 * 7 * 1.1
    assert fp.samples == pytest.approx((7 * 86400 + 3600) / 60 + 2)
    assert fp.peak_bytes == pytest.approx(
        BASE
        + fp.recipients_in_memory * PER_RECIPIENT
        + fp.samples * fp.nodes * PER_SAMPLE
        + 17500 * PER_MAILBOX
    )
    # measured (docs/performance.md): 315 MB for the 7-day baseline; the estimate errs on the high side
    assert 315e6 < fp.peak_bytes < 2 * 315e6


def test_a_run_that_would_not_fit_is_refused_with_its_figure():
    sc = twin.load_scenario(BASELINE, ["workload.inbound.volume=1e9/day"])
    with pytest.raises(twin.ScenarioError) as exc:
        check_footprint(sc, "f.yaml", available=8e9)
    (problem,) = exc.value.problems
    assert str(problem).startswith("f.yaml: expected peak memory ")
    assert str(problem).endswith(
        "more than the 8,000 MB available (mostly the ledger: "
        + f"{estimate(sc).parts['ledger'] / 1e6:,.0f} MB): lower the volume or the number of recipients; "
        + "--force runs it anyway"
    )
    assert check_footprint(sc, "f.yaml", available=1e15).peak_bytes > 8e9


def test_more_messages_than_the_ledger_numbers_is_refused_even_with_force(capsys):
    argv = [
        "validate",
        str(BASELINE),
        "--force",
        "--set",
        "clock.horizon=3d",
        "--set",
        "workload.inbound.volume=1e9/day",
    ]
    assert main(argv) == 2
    messages = estimate(twin.load_scenario(BASELINE, [a for a in argv[4::2]])).messages
    assert messages > MAX_MESSAGES
    assert capsys.readouterr().err == (
        f"{BASELINE}: the run would offer about {messages:,.0f} messages, more than the ledger can number "
        "(2,147,483,647): shorten clock.horizon or lower the volume\n"
    )


def test_validate_and_run_refuse_alike_and_force_overrides(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("twin.scenario.footprint.available_memory", lambda: 100e6)
    for argv in (["validate", str(BASELINE)], ["run", str(BASELINE), "--out", str(tmp_path / "o")]):
        assert main(argv) == 2
        assert "more than the 100 MB available" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["validate", str(BASELINE), "--force"]) == 0
