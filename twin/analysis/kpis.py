"""KPIs of one run: what the ledger says (recipients by state, class and stage, latencies, the funnel,
the quality figures), what each part of the model reports about itself (``Component.results`` and the
services' ``results``: stations, queues, LMTP replies, the SMTP service, …), the incidents and the
conservation check. This module only collects: it knows no component's internals."""

from __future__ import annotations

import math

import numpy as np

from twin.components.scanner import subject_tag
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
    generated = ledger.generated
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


def service_quality(model, inbound: np.ndarray, smtp: dict) -> dict:
    """SPECmail2001-style quality figures against the targets in ``outputs.quality``; ``smtp`` is the SMTP
    service's block (its replies and transactions)."""
    q = model.scenario.outputs.quality
    ledger = model.ledger
    state = ledger.column("state")
    delivered = inbound & (state == STATES.index("delivered"))
    delivery = (ledger.column("t_final") - ledger.column("t_offered"))[delivered]
    transactions = smtp["transactions"]
    tempfails = sum(smtp["temporary_errors_by_stage"].values())
    replies = smtp["replies"]
    figures = {
        "replies": replies,
        "replies_within_share": smtp["replies_within_target"] / replies if replies else None,
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


def tags(model) -> dict:
    """Stage 8 from the ledger: delivered recipients by the subject tag their score gave them."""
    ledger = model.ledger
    score = ledger.column("spam_score")
    delivered = ledger.column("state") == STATES.index("delivered")
    by_score = np.bincount(score[delivered & (score >= 0)].astype(np.int64), minlength=101)
    by_tag: dict[str, int] = {}
    for s, n in enumerate(by_score.tolist()):
        tag = subject_tag(s, model.scenario.policies.spam)
        by_tag[tag] = by_tag.get(tag, 0) + n
    return {
        "delivered_tagged_spam_sure": by_tag.get("{SPAM!}", 0),
        "delivered_tagged_spam_maybe": by_tag.get("{SPAM?}", 0),
        "scanned_recipients": int((score >= 0).sum()),
    }


def incidents(model) -> list[dict]:
    """Each outage of a node, with what it does: the node's own effect and its dependents' (the
    ``depends_on`` edges into it), each marked whether the model simulates it yet."""
    graph = model.graph
    out = []
    for i in model.faults.incidents:
        dependents = sorted(
            {
                (graph.nodes[u]["kind"], d["effect"], d["modelled"])
                for u, _, k, d in graph.in_edges(i.target, keys=True, data=True)
                if k == "depends_on"
            }
        )
        out.append(
            {
                "target": i.target,
                "class": i.kind,
                "start_s": i.start,
                "end_s": _finite(i.end),
                "duration_s": (i.end if not math.isnan(i.end) else model.end) - i.start,
                "cause": i.cause,
                "effect": model.components[i.target].OUTAGE,
                "dependents": [{"class": c, "effect": e, "modelled": m} for c, e, m in dependents],
            }
        )
    return out


def collect(model, timeseries) -> dict[str, dict]:
    """The blocks the parts report: a component's entry goes under its node name, a service's block
    stands as it is. Stations get their highest sampled utilisation in the statistics window (after the
    warm-up, up to the horizon or, with ``outputs.statistics_include_drain``, the end)."""
    out: dict[str, dict] = {}
    for comp in model.components.values():
        for block, entry in comp.results().items():
            out.setdefault(block, {})[comp.name] = entry
    clock = model.scenario.clock
    last = model.end if model.scenario.outputs.statistics_include_drain else clock.horizon
    peaks = {}
    if len(timeseries):
        window = timeseries[(timeseries["t"] > clock.warmup) & (timeseries["t"] <= last)]
        peaks = window.groupby("component", observed=True)["utilisation"].max().to_dict()
    for name, entry in out.get("components", {}).items():
        for k, v in entry.items():
            entry[k] = _finite(v)
        entry["utilisation_peak"] = _finite(peaks.get(name, float("nan")))
    for service in model.services:
        out.update(service.results())
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

    blocks = collect(model, timeseries)
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
        "components": blocks.pop("components", {}),
        "queues": blocks.pop("queues", {}),
        "incidents": incidents(model),
    }
    inbound = _inbound_originals(model)
    smtp = blocks.pop("smtp", None)
    if inbound.any() and smtp is not None:
        out["funnel"] = {"inbound": funnel(model, inbound)}
        for c, name in enumerate(ledger.classes.names):
            if name.startswith("inbound-"):
                out["funnel"][name] = funnel(model, inbound & (classes == c))
        out["service_quality"] = service_quality(model, inbound, smtp)
        out["smtp"] = {**smtp, **tags(model)}
    out.update(blocks)
    return out


def _finite(v: float) -> float | None:
    """JSON has no NaN: a statistic with no data is null."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
