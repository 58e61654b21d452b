"""Every command of the mailtwin CLI, as a user or a CI job calls it."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.helpers import BASELINE, ROOT
from twin.cli import main

SHORT = ["--set", "clock.horizon=20m", "--set", "clock.drain=2m"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "baseline"
    assert main(["run", str(BASELINE), "--out", str(out), "--seed", "3", *SHORT]) == 0
    return out


def test_run_writes_the_contracted_files(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {
        "kpis.json",
        "ledger.parquet",
        "timeseries.parquet",
        "scenario.resolved.yaml",
        "report.html",
        "run.json",
        "plots",
    } <= names
    assert {p.name for p in (run_dir / "plots").glob("*.png")} == {
        "outcomes.png",
        "funnel.png",
        "latency.png",
        "utilisation.png",
        "headroom.png",
        "spool.png",
        "replication.png",
        "sessions.png",
        "storage.png",
    }
    assert not [p for p in run_dir.rglob(".*.tmp")]


def test_kpis_have_the_recipients_block(run_dir):
    kpis = json.loads((run_dir / "kpis.json").read_text())
    rec = kpis["recipients"]
    assert set(rec) == {
        "offered",
        "delivered",
        "rejected",
        "bounced",
        "quarantined",
        "attachment_held",
        "discarded",
        "redirected",
        "lost",
        "expired_at_sender",
        "pending",
    }
    assert all(isinstance(v, int) for v in rec.values())
    assert sum(v for k, v in rec.items() if k != "offered") == rec["offered"] > 0
    assert kpis["conservation_ok"] is True


def test_ledger_and_timeseries_are_readable_parquet(run_dir):
    kpis = json.loads((run_dir / "kpis.json").read_text())
    ledger = pd.read_parquet(run_dir / "ledger.parquet")
    assert len(ledger) == kpis["recipients"]["offered"]
    assert ledger["state"].value_counts()["rejected"] == kpis["recipients"]["rejected"]
    ts = pd.read_parquet(run_dir / "timeseries.parquet")
    assert {"t", "time", "component", "kind", "utilisation", "queue", "busy"} <= set(ts.columns)
    assert set(ts["component"]) >= {"fe1", "scan1", "store"}


def test_run_json_says_how_it_was_made(run_dir):
    info = json.loads((run_dir / "run.json").read_text())
    assert info["seed"] == 3 and info["events_processed"] > 0 and info["wall_seconds"] > 0
    assert info["mailtwin_version"]


def test_a_run_repeats_from_its_output_alone(run_dir, tmp_path):
    resolved = run_dir / "scenario.resolved.yaml"
    assert yaml.safe_load(resolved.read_text())["clock"]["horizon"] == "20m"
    again = tmp_path / "again"
    assert main(["run", str(resolved), "--out", str(again), "--seed", "3"]) == 0
    a = pd.read_parquet(run_dir / "ledger.parquet")
    b = pd.read_parquet(again / "ledger.parquet")
    pd.testing.assert_frame_equal(a, b)


def test_report_shows_the_outcome_table_and_plots(run_dir):
    html = (run_dir / "report.html").read_text()
    assert "Recipients by final state" in html and "Conservation law" in html
    assert "plots/utilisation.png" in html and "plots/outcomes.png" in html
    assert "plots/funnel.png" in html and "<h2>Funnel</h2>" in html and "SPECmail" in html
    # The dependency table, each effect marked as simulated or not (every one is, today).
    assert "<h2>Dependencies</h2>" in html
    assert "LMTP answers 451 4.3.0" in html and "kdc unreachable" in html and "no: " not in html
    assert "<h2>Users' sessions</h2>" in html and "plots/sessions.png" in html


def test_run_prints_a_summary(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--out", str(tmp_path / "o"), *SHORT]) == 0
    out = capsys.readouterr().out
    assert "conservation: ok" in out and "rejected" in out and f"results in {tmp_path / 'o'}/" in out


def test_run_json_flag_prints_the_kpis(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--out", str(tmp_path / "o"), "--json", *SHORT]) == 0
    assert json.loads(capsys.readouterr().out)["conservation_ok"] is True


def test_negative_seed_is_bad_input(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(BASELINE), "--out", str(tmp_path / "o"), "--seed", "-1", *SHORT])
    assert exc.value.code == 2
    assert "argument --seed: must be a whole number from 0 to 2**63-1 (got '-1')" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_validate_accepts_good_files(capsys):
    assert main(["validate", str(BASELINE)]) == 0
    assert capsys.readouterr().out.startswith(f"{BASELINE}: ok (baseline: 30 platform nodes")


def test_validate_reports_each_bad_file_and_still_checks_the_rest(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("meta: {name: x}\n")
    assert main(["validate", str(bad), str(BASELINE)]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"{bad}:1: clock: required field missing\n"
    assert f"{BASELINE}: ok" in captured.out


def test_schema_prints_json_schema(capsys, tmp_path):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False and "clock" in schema["properties"]
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_topology_lists_draws_and_dumps(capsys, tmp_path):
    png = tmp_path / "t.png"
    assert main(["topology", str(BASELINE), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "fe4" in out and "esx1" in out and "31 nodes" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["topology", str(BASELINE), "--json"]) == 0
    graph = json.loads(capsys.readouterr().out)
    assert {"from": "fe4", "to": "esx1", "kind": "runs_on"} in graph["edges"]


def test_console_script_and_module_entry_point_work():
    proc = subprocess.run(
        [sys.executable, "-m", "twin", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stdout.startswith("mailtwin ")
    proc = subprocess.run(
        [sys.executable, "-m", "twin", "validate"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and "required" in proc.stderr


def test_every_command_has_help(capsys):
    for cmd in ("run", "validate", "schema", "topology", "retry-schedule", "sieve-test", "check", "spof"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0
        assert "usage: mailtwin " + cmd in capsys.readouterr().out


def test_progress_reports_simulated_time_until_the_end(capsys):
    import twin
    from twin.cli import ProgressBar

    calls = []
    sc = twin.load_scenario(BASELINE, ["clock.horizon=10m", "clock.drain=0s"])
    twin.simulate(sc, seed=1, progress=lambda now, end: calls.append((now, end)))
    assert calls and calls[-1] == (600.0, 600.0)
    bar = ProgressBar(width=10)
    bar(300.0, 600.0)
    bar.close()
    err = capsys.readouterr().err
    assert "[#####.....]  50.0%" in err and "0.08/0.17 h simulated" in err


def test_retry_schedule_json_for_exims_default_rule(capsys):
    assert (
        main(["retry-schedule", "F,2h,15m; G,16h,1h,1.5; F,4d,6h", "--queue-interval", "5m", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "rule",
        "queue_interval_s",
        "attempts_min",
        "next_try_min",
        "delay_warnings_min",
        "bounce_min",
        "bounce_reason",
    }
    assert out["queue_interval_s"] == 300
    assert out["attempts_min"][:11] == [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 195]
    # Warnings only at real attempts (deliver.c): the first attempt after each day on the queue, and none
    # with the bounce (docs/retry.md says so).
    assert out["delay_warnings_min"] == [1750, 3190, 4630]
    assert set(out["delay_warnings_min"]) <= set(out["attempts_min"])
    assert '"delay_warnings_min": [1750.0, 3190.0, 4630.0]' in (ROOT / "docs" / "retry.md").read_text()
    assert (out["bounce_min"], out["bounce_reason"]) == (5765, "retry timeout exceeded")
    assert len(out["next_try_min"]) == len(out["attempts_min"]) - 1


def test_retry_schedule_rejects_bad_rules(capsys):
    assert main(["retry-schedule", "F,2h,15m; Q,1h"]) == 2
    assert "rule 2 'Q,1h': expected F,<cutoff>,<interval>" in capsys.readouterr().err
    assert main(["retry-schedule", "F,2h,15m", "--queue-interval", "soon"]) == 2
    assert "expected a duration" in capsys.readouterr().err
