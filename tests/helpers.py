"""Scenario builders shared by the tests."""

from __future__ import annotations

import copy
from pathlib import Path

import twin

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"


def network(stations: dict, sources: list[dict], horizon="2h", warmup="0s", drain="0s", **extra) -> dict:
    """Raw scenario data for an open network of generic stations."""
    data = {
        "meta": {"name": "network"},
        "clock": {"start": "2010-05-03 00:00", "horizon": horizon, "warmup": warmup, "drain": drain},
        "platform": {"stations": copy.deepcopy(stations)},
        "workload": {"sources": copy.deepcopy(sources)},
        "outputs": {"report": False},
    }
    data.update(extra)
    return data


def station(servers=1, mean="1s", dist="exponential", routing=None) -> dict:
    service = {"dist": dist, "mean": mean} if dist == "exponential" else {"dist": dist, "value": mean}
    return {"servers": servers, "service": service, "routing": routing or {}}


def simulate(data: dict, seed=1, overrides=()):
    return twin.simulate(twin.scenario_from_dict(data, list(overrides)), seed=seed)


def outage(target: str, at: str, duration: str, cause: str = "test") -> dict:
    """A scheduled outage entry of ``faults``."""
    return {"kind": "outage", "target": target, "at": at, "duration": duration, "cause": cause}


def random_failures(target: str, mtbf: dict, mttr: dict) -> dict:
    """A random-failures entry of ``faults`` (up for an ``mtbf`` draw, down for an ``mttr`` draw)."""
    return {"kind": "random", "target": target, "mtbf": mtbf, "mttr": mttr}
