"""Independent replications of a station network, for comparison with queueing theory.

Every test here compares a mean over replications with an analytic value and accepts it when the value
lies inside the 99.9 % Student-t confidence interval (a correct model fails that by chance with
probability 0.1 %; the seeds are fixed, so the outcome is repeatable). A second assertion keeps the test
honest: the interval's half-width must be small (a few per cent of the value), so a wide interval cannot
hide a wrong model.
"""

from __future__ import annotations

from collections.abc import Callable

import twin
from twin.analysis.statistics import Estimate, confidence_interval
from twin.experiments.replications import replicate

LEVEL = 0.999
REPLICATIONS = 20


def estimates(data: dict, measures: dict[str, Callable[[dict], float]]) -> dict[str, Estimate]:
    """Run REPLICATIONS seeds; ``measures`` maps a name to a function of a run's KPIs."""
    runs = replicate(twin.scenario_from_dict(data), range(1, REPLICATIONS + 1))
    for kpis in runs:
        assert "error" not in kpis, kpis.get("traceback")
        assert kpis["conservation_ok"], kpis["conservation"]
    return {name: confidence_interval([fn(k) for k in runs], LEVEL) for name, fn in measures.items()}


def station_stat(name: str, stat: str) -> Callable[[dict], float]:
    return lambda kpis: kpis["components"][name][stat]
