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


def simulate(scenario: Scenario, seed: int = 0, progress=None, force: bool = False):
    """Run a scenario once and return its Results (a pure function of scenario, seed and code version).

    The scenario is checked again as the run starts (a validated scenario changed since is caught here),
    and so is its expected peak memory (``force=True`` runs it anyway): ScenarioError says what is wrong.
    The ledger is written to a Parquet file in a temporary folder as the run closes (the KPIs are counted
    in the same pass); ``Results.ledger`` reads it when asked, ``Results.save`` copies it. The folder goes
    with the Results object."""
    import shutil
    import tempfile
    import weakref
    from pathlib import Path

    from twin.analysis.kpis import compute_kpis, direction_groups, latency_cdfs
    from twin.analysis.tally import LedgerTally
    from twin.model import Model
    from twin.parquet import write_ledger
    from twin.results import Results, run_info

    scenario = checked(scenario, seed)
    if not force:
        from twin.scenario.footprint import check_footprint

        check_footprint(scenario, f"scenario {scenario.meta.name!r}")
    model = Model(scenario, seed=seed)
    model.run(progress=progress)
    timeseries = model.probe.frame(scenario.clock.t0, scenario.clock.timezone)
    workdir = Path(tempfile.mkdtemp(prefix="mailtwin-run-"))
    try:
        tally = LedgerTally(
            model.ledger,
            scenario.clock.warmup,
            scenario.outputs.quality.delivery_within,
            windows=[(i.start, model.end if i.end != i.end else i.end) for i in model.faults.incidents],
        )
        write_ledger(model.ledger, workdir / "ledger.parquet", also=[tally.add])
        model.ledger.close()
        kpis = compute_kpis(model, timeseries, tally)
        res = Results(
            scenario=scenario,
            seed=seed,
            kpis=kpis,
            timeseries=timeseries,
            graph=model.graph,
            run=run_info(model, __version__),
            ledger_file=workdir / "ledger.parquet",
            latency=latency_cdfs(tally),
            latency_by_direction=latency_cdfs(tally, direction_groups(scenario, tally)),
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    weakref.finalize(res, shutil.rmtree, workdir, True)
    return res


def checked(scenario, seed) -> Scenario:
    """``scenario`` validated again (as the run will use it), and ``seed`` checked: ScenarioError if not."""
    from twin.scenario import Problem
    from twin.scenario.loading import revalidate

    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ScenarioError(
            [Problem("seed", None, "", f"must be a whole number from 0 to 2**63-1 (got {seed!r})")]
        )
    return revalidate(scenario)


__all__ = [
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "scenario_from_dict",
    "simulate",
]
