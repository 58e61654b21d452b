"""``mailtwin check``: run scenario files with their expectations on several seeds, as a CI job does.

Every scenario is validated first (a bad one is reported and the others still run); then every
(scenario, seed) runs in a worker process (``replications.run_many``). An expectation passes only if it
holds on every seed; the conservation law is checked on every run too. The verdicts go to the terminal,
one line per scenario and expectation, and optionally to JUnit XML: one testsuite per scenario, one
testcase per expectation and seed, a ``<failure>`` with the value found.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from twin.experiments.replications import run_many
from twin.scenario import Scenario, ScenarioError, load_scenario
from twin.scenario.footprint import check_footprint

CONSERVATION = "conservation_ok == true"


@dataclass
class Checked:
    """One scenario file: its problems (if it is invalid) or its runs."""

    path: Path
    problems: list[str] = field(default_factory=list)
    scenario: Scenario | None = None
    runs: dict[int, dict] = field(default_factory=dict)  # seed -> kpis (or {"error": ...})
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return str(self.path)

    def verdicts(self) -> list[tuple[str, list[tuple[int, object, bool, str]]]]:
        """Per expectation (the conservation law first): (seed, value, ok, error) per run."""
        texts = [CONSERVATION, *(self.scenario.expect if self.scenario else [])]
        out = []
        for i, text in enumerate(texts):
            per_seed = []
            for seed, kpis in sorted(self.runs.items()):
                if "error" in kpis:
                    per_seed.append((seed, None, False, kpis["error"]))
                elif i == 0:
                    per_seed.append((seed, kpis["conservation_ok"], bool(kpis["conservation_ok"]), ""))
                else:
                    e = kpis["expectations"][i - 1]
                    per_seed.append((seed, e["value"], e["ok"], ""))
            out.append((text, per_seed))
        return out

    @property
    def ok(self) -> bool:
        return not self.problems and all(ok for _, runs in self.verdicts() for _, _, ok, _ in runs)


def scenario_files(paths: list[str]) -> list[Path]:
    """The files to check: each path given, or the ``*.yaml`` files below a folder (sorted)."""
    found: list[Path] = []
    for p in map(Path, paths):
        found += sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
    return found


def check(paths: list[str], seeds: int, jobs: int | None, overrides=(), force: bool = False) -> list[Checked]:
    checked = [Checked(p) for p in scenario_files(paths)]
    runs = []
    for c in checked:
        try:
            c.scenario = load_scenario(c.path, overrides)
            if not force:
                check_footprint(c.scenario, c.name)
        except ScenarioError as exc:
            c.problems = [str(p) for p in exc.problems]
            c.scenario = None
            continue
        runs += [(c, seed) for seed in range(1, seeds + 1)]
    t0 = time.perf_counter()
    results = run_many([(c.scenario, seed) for c, seed in runs], jobs) if runs else []
    for (c, seed), kpis in zip(runs, results, strict=True):
        c.runs[seed] = kpis
    wall = time.perf_counter() - t0
    for c in checked:  # the wall time of the whole check, shared out by the number of runs
        c.seconds = wall * len(c.runs) / max(1, len(runs))
    return checked


def lines(checked: list[Checked]) -> list[str]:
    """What the terminal shows: a line per scenario, then one per expectation."""
    out = []
    for c in checked:
        if c.problems:
            out.append(f"{c.name}: INVALID")
            out += [f"  {p}" for p in c.problems]
            continue
        out.append(f"{c.name}: {'ok' if c.ok else 'FAILED'} ({len(c.runs)} seeds)")
        for text, runs in c.verdicts():
            verdict = "ok" if all(ok for _, _, ok, _ in runs) else "FAILED"
            values = ", ".join(f"{seed}: {_shown(v, err)}" for seed, v, _, err in runs)
            out.append(f"  {verdict:<6} {text}   [{values}]")
    return out


def _shown(value, error: str = "") -> str:
    if error:
        return f"error {error}"
    if value is None:
        return "missing"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def junit(checked: list[Checked]) -> ET.ElementTree:
    """JUnit XML: a testsuite per scenario, a testcase per expectation and seed."""
    root = ET.Element("testsuites", name="mailtwin check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for c in checked:
        suite = ET.SubElement(root, "testsuite", name=c.name)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        if c.problems:
            case = ET.SubElement(suite, "testcase", classname=c.name, name="scenario is valid")
            ET.SubElement(case, "error", message=c.problems[0], type="invalid scenario").text = "\n".join(
                c.problems
            )
            counts["tests"], counts["errors"] = 1, 1
        for text, runs in c.verdicts():
            for seed, value, ok, error in runs:
                case = ET.SubElement(
                    suite,
                    "testcase",
                    classname=c.name,
                    name=f"{text} [seed {seed}]",
                    time=f"{c.seconds / max(1, len(c.runs)):.3f}",
                )
                counts["tests"] += 1
                if error:
                    ET.SubElement(case, "error", message=error, type="run failed")
                    counts["errors"] += 1
                elif not ok:
                    ET.SubElement(
                        case,
                        "failure",
                        message=f"value {_shown(value)}: {text} does not hold",
                        type="expectation",
                    )
                    counts["failures"] += 1
        suite.set("time", f"{c.seconds:.3f}")
        for k, n in counts.items():
            suite.set(k, str(n))
            totals[k] += n
    for k, n in totals.items():
        root.set(k, str(n))
    ET.indent(root)
    return ET.ElementTree(root)
