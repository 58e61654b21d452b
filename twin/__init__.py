"""mailtwin: a discrete-event digital twin of a university mail platform.

import twin
sc = twin.load_scenario("scenarios/baseline.yaml")
res = twin.simulate(sc, seed=1)
res.kpis["recipients"], res.ledger, res.timeseries
res.save("reports/mine")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from twin.scenario import Scenario, ScenarioError, load_scenario, parse_scenario, scenario_from_dict

try:
    __version__ = version("mailtwin")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"


def simulate(scenario: Scenario, seed: int = 0, progress=None):
    """Run a scenario once and return its Results (a pure function of scenario, seed and code version)."""
    from twin.analysis.kpis import compute_kpis
    from twin.model import Model
    from twin.results import Results, run_info

    model = Model(scenario, seed=seed)
    model.run(progress=progress)
    timeseries = model.probe.frame(scenario.clock.start)
    kpis = compute_kpis(model, timeseries)
    return Results(
        scenario=scenario,
        seed=seed,
        kpis=kpis,
        timeseries=timeseries,
        graph=model.graph,
        run=run_info(model, __version__),
        _ledger=model.ledger,
    )


__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "scenario_from_dict",
    "simulate",
]
