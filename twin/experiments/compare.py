"""``mailtwin compare``: two scenarios run on the same seeds, and the difference of each KPI with a paired
confidence interval (common random numbers).

Why the pairing works: every random stream is keyed by its path under the root seed (``sim/streams.py``),
not by the order draws are made in. Run with the same seed, scenario A and scenario B draw the same
arrivals, sizes, recipients and service demands wherever the two share a path, even if B has another
number of servers or another rate (a rate scales the same draws). Their KPIs move together from seed to
seed, so the difference B - A per seed varies much less than either side, and its Student-t interval
(over the n differences) is narrower than Welch's interval for two independent sets of runs, whose
variance is Var(A)/n + Var(B)/n. Both are printed; the paired one is the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.analysis.statistics import confidence_interval, welch_half_width
from twin.experiments.estimates import Replicated
from twin.experiments.executor import execute
from twin.experiments.store import Point


@dataclass
class Compared:
    a: Replicated
    b: Replicated
    labels: tuple[str, str]

    def rows(self) -> list[dict]:
        """Per KPI: n pairs, mean of A and B, the mean difference B - A with its paired half-width and
        the half-width two independent sets of runs of this variance would have (Welch)."""
        out = []
        for kpi in self.a.kpis:
            pairs = _pairs(self.a, self.b, kpi)
            row: dict = {"kpi": kpi, "n": len(pairs), "mean_a": None, "mean_b": None, "difference": None}
            row |= {"paired_half_width": None, "independent_half_width": None, "relative": None}
            if pairs:
                xa, xb = [p[0] for p in pairs], [p[1] for p in pairs]
                diff = [b - a for a, b in pairs]
                row.update(
                    mean_a=sum(xa) / len(xa), mean_b=sum(xb) / len(xb), difference=sum(diff) / len(diff)
                )
                if len(pairs) >= 2:
                    paired = confidence_interval(diff, self.a.level).half_width
                    row.update(
                        paired_half_width=paired,
                        independent_half_width=welch_half_width(xa, xb, self.a.level),
                        relative=paired / abs(row["mean_a"]) if row["mean_a"] else None,
                    )
            out.append(row)
        return out

    @property
    def errors(self) -> dict[str, dict[int, str]]:
        return {self.labels[0]: self.a.errors, self.labels[1]: self.b.errors}


def _pairs(a: Replicated, b: Replicated, kpi: str) -> list[tuple[float, float]]:
    """(A, B) of every seed where both runs have a number for the KPI."""
    va, vb = a.by_seed(kpi), b.by_seed(kpi)
    return [(va[s], vb[s]) for s in va if s in vb]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def compare(
    a: Point, b: Point, seeds: list[int], kpis: list[str], level: float, pool, folder=None, progress=None
) -> Compared:
    """A and B on the same seeds (all runs at once through ``pool``), paired KPI by KPI."""
    results = execute([a, b], seeds, pool, folder, progress)
    reps = []
    for point in (a, b):
        rep = Replicated(list(kpis), level)
        rep.runs = {s: results[(point.id, s)] for s in seeds}
        reps.append(rep)
    return Compared(reps[0], reps[1], (a.label["side"], b.label["side"]))


def lines(c: Compared) -> list[str]:
    level = c.a.level
    out = [
        f"B - A per KPI over the seeds both ran (A: {c.labels[0]}; B: {c.labels[1]}); {level:.0%} intervals: "
        "paired (common random numbers), and what independent runs of the same variance would give (Welch)"
    ]
    rows = c.rows()
    width = max(len(r["kpi"]) for r in rows)
    for r in rows:
        if r["difference"] is None:
            out.append(f"  {r['kpi']:<{width}}  no value in both")
            continue
        if r["paired_half_width"] is None:
            out.append(
                f"  {r['kpi']:<{width}}  A {r['mean_a']:.6g}  B {r['mean_b']:.6g}  (one pair: no interval)"
            )
            continue
        sig = abs(r["difference"]) > r["paired_half_width"]
        out.append(
            f"  {r['kpi']:<{width}}  A {r['mean_a']:.6g}  B {r['mean_b']:.6g}  B-A {r['difference']:+.4g} "
            f"± {r['paired_half_width']:.3g} paired (± {r['independent_half_width']:.3g} independent)  "
            f"n={r['n']}{'  differs' if sig else '  no difference shown'}"
        )
    for side, errors in c.errors.items():
        for seed, error in errors.items():
            out.append(f"  {side} seed {seed}: error {error}")
    return out
