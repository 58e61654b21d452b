"""KPIs of one run, computed from the ledger columns and the stations' statistics."""

from __future__ import annotations

import math

import numpy as np

from twin.scenario.schema import STATES
from twin.sim.ledger import PENDING

PERCENTILES = (50, 90, 95, 99)


def recipients_and_conservation(model) -> tuple[dict[str, int], dict]:
    """The ``recipients`` block (one integer per state, plus ``offered``) and the conservation check.

    The law (DESIGN.md principle 2): every recipient the sources offered has exactly one row, and every
    row is in exactly one state; a terminal row has a final time, a pending one has none.
    """
    ledger = model.ledger
    counts = ledger.state_counts()
    offered_by_sources = sum(s.offered_recipients for s in model.sources)
    generated = model.generated_recipients
    state = ledger.column("state")
    t_final = ledger.column("t_final")
    final_known = ~np.isnan(t_final)
    inconsistent = int(np.count_nonzero(final_known == (state == PENDING)))
    checks = {
        "offered_by_sources": offered_by_sources,
        "generated_by_platform": generated,
        "ledger_rows": ledger.n,
        "sum_of_states": sum(counts.values()),
        "rows_finalised_twice": ledger.double_final,
        "rows_with_inconsistent_final_time": inconsistent,
    }
    ok = (
        offered_by_sources + generated == ledger.n == checks["sum_of_states"]
        and ledger.double_final == 0
        and inconsistent == 0
    )
    recipients = {"offered": ledger.n, **counts}
    return recipients, {"ok": ok, **checks}


def _latency(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {"count": 0}
    out = {"count": len(values), "mean_s": float(values.mean()), "max_s": float(values.max())}
    for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True):
        out[f"p{p}_s"] = float(v)
    return out


def _by(codes: np.ndarray, names: list[str], state: np.ndarray) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in np.unique(codes):
        counts = np.bincount(state[codes == c], minlength=len(STATES))
        out[names[c]] = {s: int(counts[i]) for i, s in enumerate(STATES) if counts[i]}
    return out


def compute_kpis(model, timeseries) -> dict:
    ledger = model.ledger
    recipients, conservation = recipients_and_conservation(model)
    state = ledger.column("state")
    offered_at = ledger.column("t_offered")
    # Like the stations' statistics, latencies leave out what was offered during the warm-up.
    delivered = (state == STATES.index("delivered")) & (offered_at >= model.scenario.clock.warmup)
    latency = ledger.column("t_final") - offered_at
    classes = ledger.column("traffic_class")

    lat = {"all": _latency(latency[delivered])}
    for c, name in enumerate(ledger.classes.names):
        lat[name] = _latency(latency[delivered & (classes == c)])

    components = {}
    peaks = (
        timeseries.groupby("component", observed=True)["utilisation"].max().to_dict()
        if len(timeseries)
        else {}
    )
    for name, comp in model.components.items():
        st = comp.station
        if st is None:
            continue
        s = st.summary(model.end)
        components[name] = {
            "kind": comp.attrs["kind"],
            **{k: _finite(v) for k, v in s.items()},
            "utilisation_peak": _finite(peaks.get(name, float("nan"))),
        }
    queues = {}
    for name, comp in model.components.items():
        if comp.spool is None:
            continue
        series = timeseries[timeseries["component"] == name] if len(timeseries) else timeseries
        queues[name] = {
            **comp.counts,
            "spool_at_end": len(comp.spool),
            "spool_peak_messages": int(series["spool_messages"].max()) if len(series) else 0,
            "spool_peak_bytes": int(series["spool_bytes"].max()) if len(series) else 0,
        }
    incidents = [
        {
            "target": i.target,
            "class": i.kind,
            "start_s": i.start,
            "end_s": _finite(i.end),
            "duration_s": (i.end if not math.isnan(i.end) else model.end) - i.start,
            "cause": i.cause,
        }
        for i in model.faults.incidents
    ]
    return {
        "scenario": model.scenario.meta.name,
        "seed": model.seed,
        "simulated_seconds": model.end,
        "messages_offered": sum(s.offered_messages for s in model.sources),
        "recipients": recipients,
        "conservation_ok": conservation["ok"],
        "conservation": conservation,
        "by_traffic_class": _by(classes, ledger.classes.names, state),
        "by_stage": _by(ledger.column("stage"), ledger.stages.names, state),
        "delivery_latency": lat,
        "components": components,
        "queues": queues,
        "incidents": incidents,
    }


def _finite(v: float) -> float | None:
    """JSON has no NaN: a statistic with no data is null."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
