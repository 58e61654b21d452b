"""Scenario files: schema, loading with clear errors, the shipped hardware catalogue."""

from twin.scenario.loading import (
    Problem,
    ScenarioError,
    dump_resolved,
    load_scenario,
    parse_scenario,
    scenario_from_dict,
)
from twin.scenario.schema import STATES, TERMINAL_STATES, Scenario

__all__ = [
    "STATES",
    "TERMINAL_STATES",
    "Problem",
    "Scenario",
    "ScenarioError",
    "dump_resolved",
    "load_scenario",
    "parse_scenario",
    "scenario_from_dict",
]
