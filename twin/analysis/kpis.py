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


# The funnel of original inbound recipients, in the order a message meets the stages (PLATFORM.md §2):
# (step, state, ledger stages or None for any stage of that state).
FUNNEL = (
    ("sender gave up after 4xx", "expired_at_sender", None),
    ("1 blocklist", "rejected", ("blocklist",)),
    ("3 sender verification", "rejected", ("sender verify",)),
    ("2-3 recipient checks", "rejected", ("deactivated", "unknown recipient")),
    ("4 virus", "rejected", ("virus",)),
    ("5 attachment held", "attachment_held", None),
    ("7 quarantine", "quarantined", None),
    ("10-11 bounced at delivery", "bounced", None),
    ("still pending", "pending", None),
)


def funnel(model, rows: np.ndarray) -> list[dict]:
    """How many of the recipients in ``rows`` (a boolean mask) each stage removed, and how many were left
    after it; what is left at the end was delivered (or, for other traffic, went elsewhere)."""
    ledger = model.ledger
    state = ledger.column("state")[rows]
    stage = ledger.column("stage")[rows]
    names = ledger.stages.names
    offered = int(rows.sum())
    left = offered
    out = [{"step": "offered", "removed": 0, "left": left, "left_share": 1.0 if offered else None}]
    for step, st, stages in FUNNEL:
        mask = state == STATES.index(st)
        if stages is not None:
            codes = [names.index(g) for g in stages if g in names]
            mask &= np.isin(stage, codes)
        removed = int(mask.sum())
        left -= removed
        out.append(
            {
                "step": step,
                "removed": removed,
                "left": left,
                "left_share": left / offered if offered else None,
            }
        )
    return out


def service_quality(model, inbound: np.ndarray) -> dict:
    """SPECmail2001-style quality figures against the targets in ``outputs.quality``."""
    q = model.scenario.outputs.quality
    ledger = model.ledger
    replies = np.frombuffer(model.smtp_replies, dtype=float) if len(model.smtp_replies) else np.zeros(0)
    state = ledger.column("state")
    delivered = inbound & (state == STATES.index("delivered"))
    delivery = (ledger.column("t_final") - ledger.column("t_offered"))[delivered]
    transactions = model.transactions
    tempfails = sum(model.tempfails.values())
    figures = {
        "replies": len(replies),
        "replies_within_share": float((replies <= q.reply_within).mean()) if len(replies) else None,
        "deliveries": int(delivered.sum()),
        "deliveries_within_share": float((delivery <= q.delivery_within).mean()) if len(delivery) else None,
        "transactions": transactions,
        "temporary_errors": tempfails,
        "error_rate": tempfails / transactions if transactions else None,
    }
    met = {
        "replies": figures["replies_within_share"] is None
        or figures["replies_within_share"] >= q.reply_share,
        "deliveries": figures["deliveries_within_share"] is None
        or figures["deliveries_within_share"] >= q.delivery_share,
        "errors": figures["error_rate"] is None or figures["error_rate"] <= q.error_rate_max,
    }
    return {"targets": q.model_dump(), **figures, "met": met}


def _inbound_originals(model) -> np.ndarray:
    ledger = model.ledger
    names = ledger.origins.names
    code = names.index("inbound") if "inbound" in names else -1
    return (ledger.column("origin") == code) & (ledger.column("parent_id") == -1)


def smtp_summary(model) -> dict:
    ledger = model.ledger
    score = ledger.column("spam_score")
    delivered = ledger.column("state") == STATES.index("delivered")
    spam = model.scenario.policies.spam
    return {
        "transactions": model.transactions,
        "reached_data": model.data_transfers,
        "temporary_errors_by_stage": {
            ledger.stages.names[c]: n for c, n in sorted(model.tempfails.items(), key=lambda kv: -kv[1])
        },
        "delivered_tagged_spam_sure": int((delivered & (score >= spam.tag_sure)).sum()),  # {SPAM!}
        "delivered_tagged_spam_maybe": int(
            (delivered & (score >= spam.tag_maybe) & (score < spam.tag_sure)).sum()
        ),  # {SPAM?}
        "scanned_recipients": int((score >= 0).sum()),
    }


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
            "sessions": getattr(comp, "sessions", 0),
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
    out = {
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
    inbound = _inbound_originals(model)
    if inbound.any():
        out["funnel"] = {"inbound": funnel(model, inbound)}
        classes_all = ledger.column("traffic_class")
        for c, name in enumerate(ledger.classes.names):
            if name.startswith("inbound-"):
                out["funnel"][name] = funnel(model, inbound & (classes_all == c))
        out["service_quality"] = service_quality(model, inbound)
        out["smtp"] = smtp_summary(model)
    if model.mailboxes.count:
        out["mailboxes"] = {
            **model.mailboxes.summary(),
            "usage_bytes": int(sum(model.mailboxes.usage)),
        }
    stores = {n: c.replies for n, c in model.components.items() if hasattr(c, "replies")}
    if stores:
        out["lmtp_replies"] = stores
    if model.balancer is not None:
        out["balancer"] = {"active": model.balancer.active.name, "takeovers": model.balancer.takeovers}
    return out


def _finite(v: float) -> float | None:
    """JSON has no NaN: a statistic with no data is null."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
