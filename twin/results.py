"""Results of one run: KPIs, ledger and time series as pandas, and ``save`` for the output folder."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import networkx as nx
import pandas as pd

from twin.io import ResultsFolder, atomic_path, write_text
from twin.parquet import read_ledger
from twin.scenario import Scenario, dump_resolved
from twin.sim.ledger import ROW_BYTES


@dataclass
class Results:
    scenario: Scenario
    seed: int
    kpis: dict
    timeseries: pd.DataFrame
    graph: nx.MultiDiGraph
    run: dict
    ledger_file: Path  # the run's ledger.parquet (in a temporary folder until ``save``)
    latency: dict = field(repr=False)  # per traffic class: deliveries and their latency CDF (the report's)
    latency_by_direction: dict = field(default_factory=dict, repr=False)  # the same per direction of mail

    @cached_property
    def ledger(self) -> pd.DataFrame:
        """One row per offered recipient (see ``twin.sim.ledger.COLUMNS``), read from the ledger file."""
        return read_ledger(self.ledger_file)

    @property
    def components(self) -> pd.DataFrame:
        """Per-station statistics: waiting and sojourn times, queue lengths, utilisation."""
        return pd.DataFrame.from_dict(self.kpis["components"], orient="index").rename_axis("component")

    @property
    def incidents(self) -> pd.DataFrame:
        """One row per outage of a node (propagated ones included): target, class, start, end, cause."""
        cols = ["target", "class", "start_s", "end_s", "duration_s", "cause"]
        return pd.DataFrame(self.kpis["incidents"], columns=cols)

    def save(self, out_dir: str | Path, source: str = "") -> list[Path]:
        """Write the run's files into ``out_dir``, whole or not at all: into a fresh folder beside it that
        then takes its place (``twin.io.ResultsFolder``), so no file of an earlier run survives there."""
        with ResultsFolder(out_dir) as folder:
            staging = folder.staging
            staged = self.write(staging, source)
            folder.commit()
        return [folder.out / p.relative_to(staging) for p in staged]

    def write(self, out: Path, source: str = "") -> list[Path]:
        """Write the run's files into the folder ``out`` (which exists)."""
        written: list[Path] = []

        def text(name: str, content: str) -> None:
            write_text(out / name, content)
            written.append(out / name)

        def parquet(name: str, df: pd.DataFrame) -> None:
            with atomic_path(out / name) as tmp:
                df.to_parquet(tmp, index=False)
            written.append(out / name)

        def copy(name: str, source: Path) -> None:
            with atomic_path(out / name) as tmp:
                shutil.copyfile(source, tmp)
            written.append(out / name)

        text("kpis.json", json.dumps(self.kpis, indent=2) + "\n")
        text("run.json", json.dumps(self.run, indent=2) + "\n")
        text("scenario.resolved.yaml", dump_resolved(self.scenario, source))
        outputs = self.scenario.outputs
        if outputs.ledger:
            copy("ledger.parquet", self.ledger_file)
        if outputs.timeseries:
            parquet("timeseries.parquet", self.timeseries)
        if outputs.report:
            from twin.report import write_report

            written += write_report(self, out)
        return written


PACKAGES = ("simpy", "numpy", "pandas", "pyarrow", "networkx", "pydantic", "scipy", "matplotlib", "jinja2")


def run_info(model, version: str) -> dict:
    """run.json: what ran, how long, and what a reader needs to run it again and get the same ledger (the
    command line's --set list and source file are added by the CLI)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    packages = {}
    for name in PACKAGES:
        try:
            packages[name] = package_version(name)
        except PackageNotFoundError:
            packages[name] = None
    resolved = dump_resolved(model.scenario)
    return {
        "mailtwin_version": version,
        "commit": _commit(),
        "scenario": model.scenario.meta.name,
        "scenario_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
        "seed": model.seed,
        "simulated_seconds": model.end,
        "wall_seconds": round(model.wall_seconds, 4),
        "events_processed": model.events,
        "events_per_second": round(model.events / model.wall_seconds) if model.wall_seconds > 0 else None,
        "ledger_rows": model.ledger.n,
        "ledger_bytes": model.ledger.n * ROW_BYTES,
        "python": sys.version.split()[0],
        "packages": packages,
        "platform": platform.platform(),
    }


def _commit() -> str | None:
    """The git commit of the code that ran (with ``+dirty`` if it had changes), if it runs from a checkout."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", str(here)],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")
