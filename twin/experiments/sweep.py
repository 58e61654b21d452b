"""``mailtwin sweep``: a grid over scenario fields, every point replicated on the same seeds.

``--vary PATH=v1,v2,...`` (repeatable) names a field in the ``--set`` syntax and its values; the grid is
their product, each point the scenario with the base ``--set`` list and one value of each varied field.
All runs of all points go to the executor at once; each point's KPIs get a mean and a Student-t interval
(``estimates.Replicated``). The table has a row per point and KPI; the plots draw each KPI against the
first varied field, a line per combination of the others, the interval as error bars.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twin.experiments.estimates import Replicated
from twin.experiments.executor import execute
from twin.experiments.store import Point
from twin.io import atomic_path
from twin.scenario import load_scenario


@dataclass
class Vary:
    path: str
    texts: list[str]  # the values as given: each goes into a --set as it stands

    @property
    def values(self) -> list:
        """The values as the table and the plots show them: numbers where they read as numbers."""
        return [_value(t) for t in self.texts]


def parse_vary(text: str) -> Vary:
    """``PATH=v1,v2,...``: a scenario field and at least one value (ValueError says what is wrong)."""
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ValueError(f"--vary {text!r}: expected PATH=v1,v2,... (e.g. workload.scale=1,1.5,2)")
    items = [v.strip() for v in values.split(",")]
    if not values.strip() or any(v == "" for v in items):
        raise ValueError(f"--vary {text!r}: a value is empty (expected PATH=v1,v2,...)")
    if len(set(items)) != len(items):
        raise ValueError(f"--vary {text!r}: a value is named twice")
    return Vary(path, items)


def _value(text: str):
    """A label's value as the table and the plots show it: a number if it reads as one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def grid(scenario: str, base: list[str], varies: list[Vary]) -> list[Point]:
    """A point per combination of the varied values, in the order given (the last field varies fastest).
    Each point's scenario is loaded and checked as ``mailtwin run --set`` would (ScenarioError)."""
    points = []
    for combo in itertools.product(*(v.texts for v in varies)):
        sets = [f"{v.path}={value}" for v, value in zip(varies, combo, strict=True)]
        label = {v.path: _value(value) for v, value in zip(varies, combo, strict=True)}
        points.append(Point(label, [*base, *sets], load_scenario(scenario, [*base, *sets])))
    return points


def sweep(
    points: list[Point], seeds: list[int], kpis: list[str], level: float, pool, folder=None, progress=None
) -> list[tuple[Point, Replicated]]:
    """Every point run on every seed; each point's runs and estimates."""
    results = execute(points, seeds, pool, folder, progress)
    out = []
    for point in points:
        rep = Replicated(list(kpis), level)
        rep.runs = {s: results[(point.id, s)] for s in seeds}
        out.append((point, rep))
    return out


def table(swept: list[tuple[Point, Replicated]]) -> pd.DataFrame:
    """A row per point and KPI: the varied fields' values, kpi, n, mean, half_width, relative, min, max."""
    rows = []
    for point, rep in swept:
        for est in rep.estimates():
            rows.append({**point.label, **est})
    return pd.DataFrame(rows)


def lines(swept: list[tuple[Point, Replicated]], level: float) -> list[str]:
    """The terminal's table: a block per KPI, a line per point."""
    out = []
    kpis = swept[0][1].kpis if swept else []
    width = max((len(_label(p)) for p, _ in swept), default=0)
    for kpi in kpis:
        out.append(f"{kpi} (mean ± {level:.0%} half-width, n)")
        for point, rep in swept:
            est = next(e for e in rep.estimates() if e["kpi"] == kpi)
            out.append(f"  {_label(point):<{width}}  {_estimate(est)}")
    for point, rep in swept:
        for seed, error in rep.errors.items():
            out.append(f"  {_label(point)} seed {seed}: error {error}")
    return out


def _label(point: Point) -> str:
    return " ".join(f"{k}={v}" for k, v in point.label.items()) or "(scenario as given)"


def _estimate(est: dict) -> str:
    if est["mean"] is None:
        return "no value in any run"
    half = "(one run)" if est["half_width"] is None else f"± {est['half_width']:.4g}"
    return f"{est['mean']:.6g} {half}  n={est['n']}"


def plot(frame: pd.DataFrame, varies: list[Vary], level: float, folder: Path) -> list[Path]:
    """A PNG per KPI in ``folder``: the KPI against the first varied field (its values as categories when
    they are not numbers), a line per combination of the other fields, the intervals as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    x, others = varies[0].path, [v.path for v in varies[1:]]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in varies[0].values)
    written = []
    for kpi, rows in frame.groupby("kpi", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        groups = rows.groupby(others, sort=False) if others else [((), rows)]
        for key, g in groups:
            xs = g[x].tolist() if numeric else list(range(len(g)))
            ax.errorbar(
                xs,
                g["mean"].astype(float),
                yerr=g["half_width"].astype(float).fillna(0.0),
                marker="o",
                capsize=4,
                label=", ".join(
                    f"{k}={v}" for k, v in zip(others, key if isinstance(key, tuple) else (key,), strict=True)
                )
                or None,
            )
        if not numeric:
            ax.set_xticks(range(len(varies[0].values)), varies[0].texts)
        ax.set_xlabel(x)
        ax.set_ylabel(kpi)
        ax.set_title(f"{kpi}: mean over the seeds, {level:.0%} interval")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = folder / f"{kpi}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
        plt.close(fig)
        written.append(path)
    return written
