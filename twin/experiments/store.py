"""An experiment's folder (``--out``): every run as a Parquet file of a dataset partitioned by experiment,
point and seed, and ``experiment.json`` saying what was run with what code.

    OUT/experiment.json
    OUT/runs/experiment=NAME/point=ID/seed=S/run.parquet

A point is one scenario of the experiment (a grid point of a sweep, a side of a comparison, a growth
factor of a capacity search); its ID is the first 12 hex digits of the SHA-256 of its resolved scenario,
so the same scenario has the same ID in every experiment and every order of the grid. A run's file holds
one row: the scenario's and the code's SHA-256, the commit, ``ok`` or ``error`` with the error, the wall
seconds, and the run's kpis.json as JSON text. It is written (atomically) as soon as the run finishes, so
an interrupted experiment keeps the runs it finished.

A rerun reuses a finished run when its file is there with the same scenario and the same code (the
SHA-256 of twin/'s sources): same scenario + seed + code gives the same run, so nothing is computed twice.
Failed runs are run again. ``pd.read_parquet(OUT / "runs")`` reads the whole dataset, the partition keys
as columns; ``runs_frame`` adds chosen KPIs as columns.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from twin.io import OutputError, atomic_path, check_output_folder, lock_folder, reason, write_text
from twin.results import PACKAGES, _commit
from twin.scenario import Scenario, dump_resolved
from twin.scenario.expectations import is_number, parse_path, resolve

SCHEMA = pa.schema(
    [
        ("scenario_sha256", pa.string()),
        ("code_sha256", pa.string()),
        ("commit", pa.string()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("wall_seconds", pa.float64()),
        ("kpis", pa.string()),
    ]
)
RUN = "run.parquet"
TWIN = Path(__file__).resolve().parents[1]


@dataclass
class Point:
    """One scenario of an experiment: its label (the varied fields and their values, or a side's name),
    the --set list that made it, and the scenario."""

    label: dict
    overrides: list[str]
    scenario: Scenario
    sha256: str = field(init=False)

    def __post_init__(self):
        self.sha256 = hashlib.sha256(dump_resolved(self.scenario).encode()).hexdigest()

    @property
    def id(self) -> str:
        return self.sha256[:12]


@cache
def code_sha256() -> str:
    """SHA-256 over the mailtwin sources that decide a run (twin/**/*.py, in path order)."""
    h = hashlib.sha256()
    for path in sorted(TWIN.rglob("*.py")):
        h.update(str(path.relative_to(TWIN)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def packages() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in (*PACKAGES, "distributed"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class ExperimentFolder:
    """``OUT`` of one experiment, locked while it runs (a second experiment into it is refused)."""

    def __init__(self, out: str | Path, name: str):
        self.out = check_output_folder(out)
        self.name = name
        self._lock = None

    def open(self) -> ExperimentFolder:
        self._lock = lock_folder(self.out)
        try:
            (self.out / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.close()
            raise OutputError(f"--out {self.out}: cannot write there ({reason(exc)})") from None
        return self

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> ExperimentFolder:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def path(self, point: Point, seed: int) -> Path:
        return self.out / "runs" / f"experiment={self.name}" / f"point={point.id}" / f"seed={seed}" / RUN

    def finished(self, point: Point, seed: int) -> dict | None:
        """The run's kpis.json if it finished before with this scenario and this code, else None."""
        path = self.path(point, seed)
        if not path.is_file():
            return None
        try:
            row = pq.read_table(path).to_pylist()[0]
        except (OSError, pa.ArrowException, IndexError):
            return None  # unreadable: run it again
        same = row["scenario_sha256"] == point.sha256 and row["code_sha256"] == code_sha256()
        if row["status"] != "ok" or not same:
            return None
        return json.loads(row["kpis"])

    def save(self, point: Point, seed: int, result: dict) -> None:
        error = result.get("error")
        row = {
            "scenario_sha256": point.sha256,
            "code_sha256": code_sha256(),
            "commit": _commit(),
            "status": "error" if error is not None else "ok",
            "error": error,
            "wall_seconds": (result.get("run") or {}).get("wall_seconds"),
            "kpis": json.dumps(result),
        }
        with atomic_path(self.path(point, seed)) as tmp:
            pq.write_table(pa.Table.from_pylist([row], schema=SCHEMA), tmp)

    def write_manifest(
        self, kind: str, scenario: str, points: list[Point], seeds: list[int], **extra
    ) -> None:
        """experiment.json: what the experiment is, its points (ID, label, --set list, scenario SHA-256),
        its seeds, and the code (version, commit, sources' SHA-256, packages)."""
        from twin import __version__

        manifest = {
            "experiment": self.name,
            "kind": kind,
            "scenario": scenario,
            "points": [
                {"id": p.id, "label": p.label, "set": p.overrides, "scenario_sha256": p.sha256}
                for p in points
            ],
            "seeds": seeds,
            "code": {
                "mailtwin_version": __version__,
                "commit": _commit(),
                "sources_sha256": code_sha256(),
            },
            "packages": packages(),
            **extra,
        }
        write_text(self.out / "experiment.json", json.dumps(manifest, indent=2) + "\n")


def runs_frame(out: str | Path, kpis: list[str] = ()) -> pd.DataFrame:
    """The runs of the experiment in ``out`` (only its points, as experiment.json lists them): a row per
    run with point, label fields, seed, status, error and wall seconds, and a column per KPI path."""
    out = Path(out)
    manifest = json.loads((out / "experiment.json").read_text())
    rows = []
    for p in manifest["points"]:
        where = out / "runs" / f"experiment={manifest['experiment']}" / f"point={p['id']}"
        for seed in manifest["seeds"]:
            path = where / f"seed={seed}" / RUN
            if not path.is_file():
                continue
            row = pq.read_table(path).to_pylist()[0]
            result = json.loads(row["kpis"])
            values = {}
            for text in kpis:
                found = resolve(result, parse_path(text)) if row["status"] == "ok" else []
                values[text] = float(found[0]) if len(found) == 1 and is_number(found[0]) else None
            rows.append(
                {
                    "point": p["id"],
                    **p["label"],
                    "seed": seed,
                    "status": row["status"],
                    "error": row["error"],
                    "wall_seconds": row["wall_seconds"],
                    **values,
                }
            )
    return pd.DataFrame(rows)
