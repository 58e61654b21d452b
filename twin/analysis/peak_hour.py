"""Peak-hour utilisation per component class (a generic station is a class of its own), beside the
hardware it runs on (docs/calibration.md).

A planner sizes for the busy hour, not the day's mean: for every class with a CPU or a disk station, the
clock hour (local time, whole hours of the statistics window) in which the class's mean utilisation over
its instances is highest, that mean, and the busiest single instance in the same hour. CPU and disk have
their own busy hours (the store's disk is busiest in the night's backup, its CPU by day). The hardware
column says what the utilisation is a share of: instances, the model or VM, and how many servers
(cores, threads, spindles) its stations have.
"""

from __future__ import annotations

import math
from collections import Counter

import pandas as pd


def _hardware(model, cls: str) -> dict:
    members = [c for c in model.components.values() if c.group == cls]
    models = Counter(str(c.attrs.get("hardware")) for c in members)
    return {
        "instances": len(members),
        "cpu_servers": sum(c.station.servers for c in members if c.station is not None),
        "disk_servers": sum(d.servers for c in members if (d := getattr(c, "disk", None)) is not None),
        "hardware": ", ".join(f"{n}x {m}" for m, n in models.items()),
    }


def _busiest(window: pd.DataFrame, column: str, cls: str) -> dict | None:
    rows = window[(window["class"] == cls) & window[column].notna()]
    if rows.empty:
        return None
    # a sample closes its interval; hours are floored in UTC, where no hour repeats at a DST change
    when = rows["time"] - pd.Timedelta(microseconds=1)
    hours = when.dt.tz_convert("UTC").dt.floor("h")
    per_instance = rows.groupby([hours, rows["component"]], observed=True)[column].mean()
    per_hour = per_instance.groupby(level=0).mean()
    hour = per_hour.idxmax()
    value = float(per_hour.loc[hour])
    if not math.isfinite(value):
        return None
    return {
        "hour": hour.tz_convert(when.dt.tz).isoformat(),
        "utilisation": value,
        "busiest_instance": float(per_instance.loc[hour].max()),
        "mean": float(per_hour.mean()),
    }


def peak_hour(model, window: pd.DataFrame) -> dict[str, dict]:
    """Per class: hardware, and for its CPU and its disk the busiest hour's mean utilisation, over the
    probe's samples in the statistics window (``kpis.statistics_window``)."""
    if not len(window):
        return {}
    # a class is a component class, or a generic station on its own (Component.group)
    groups = {c.name: c.group for c in model.components.values()}
    window = window.assign(**{"class": window["component"].astype(str).map(groups)})
    out: dict[str, dict] = {}
    for cls in dict.fromkeys(window["class"].dropna()):
        cpu, disk = _busiest(window, "utilisation", cls), _busiest(window, "disk_utilisation", cls)
        if cpu is None and disk is None:
            continue
        out[cls] = {**_hardware(model, cls), "cpu": cpu, "disk": disk}
    return out
