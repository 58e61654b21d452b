"""KPIs of one run: what the ledger says (recipients by state, class and stage, latencies, the funnel,
the quality figures; from its one-pass tally, ``tally.py``), what each part of the model reports about
itself (``Component.results`` and the services' ``results``: stations, queues, LMTP replies, the SMTP
service, …), the incidents and the conservation check. This module only collects: it knows no
component's internals."""

from __future__ import annotations

import math

import numpy as np

from twin.analysis.oracle import oracle
from twin.analysis.peak_hour import peak_hour
from twin.analysis.tally import LATENCY_QUANTILES, LatencyHistogram, LedgerTally
from twin.components.scanner import subject_tag
from twin.scenario.expectations import evaluate, parse_expectation
from twin.scenario.schema import STATES

PERCENTILES = (50, 90, 95, 99)


def recipients_and_conservation(model, tally: LedgerTally) -> tuple[dict[str, int], dict]:
    """The ``recipients`` block (one integer per state, plus ``offered``) and the conservation check.

    The law (docs/architecture.md principle 2): every recipient the sources offered has exactly one row,
    and every row is in exactly one state; a terminal row has a final time, a pending one has none.
    """
    ledger = model.ledger
    per_state = tally.states().sum(axis=1)
    counts = {s: int(per_state[i]) for i, s in enumerate(STATES)}
    offered_by_sources = sum(s.offered_recipients for s in model.sources)
    generated = ledger.generated
    checks = {
        "offered_by_sources": offered_by_sources,
        "generated_by_platform": generated,
        "ledger_rows": tally.rows,
        "sum_of_states": sum(counts.values()),
        "rows_finalised_twice": ledger.double_final,
        "rows_with_inconsistent_final_time": tally.inconsistent,
    }
    ok = (
        offered_by_sources + generated == ledger.n == tally.rows == checks["sum_of_states"]
        and ledger.double_final == 0
        and tally.inconsistent == 0
    )
    recipients = {"offered": tally.rows, **counts}
    return recipients, {"ok": ok, **checks}


def _latency(h: LatencyHistogram) -> dict[str, float]:
    """Count, mean and maximum (exact) and percentiles (to within the histogram's 0.23 %)."""
    return h.summary(PERCENTILES)


def _by(counts: np.ndarray, names: list[str]) -> dict[str, dict[str, int]]:
    """``counts[code, state]`` -> {name: {state: n}} for the codes with any recipient."""
    return {
        names[c]: {s: int(row[i]) for i, s in enumerate(STATES) if row[i]}
        for c, row in enumerate(counts)
        if c < len(names) and row.any()
    }


# The funnel of a direction's recipients (for mail from the Internet: the original ones), in the order a
# message meets the stages (docs/platform.md §2), every final state but delivery: (step, state, ledger
# stages or None for any stage of that state). What is left after the last step was delivered.
FUNNEL = (
    ("sender gave up after 4xx", "expired_at_sender", None),
    ("1 blocklist", "rejected", ("blocklist",)),
    ("3 sender verification", "rejected", ("sender verify",)),
    ("2-3 recipient checks", "rejected", ("deactivated", "unknown recipient")),
    ("4 virus", "rejected", ("virus",)),
    ("5 attachment held", "attachment_held", None),
    ("7 quarantine", "quarantined", None),
    ("10-11 bounced at delivery", "bounced", None),
    ("12 Sieve: discarded", "discarded", None),
    ("12 Sieve: redirected", "redirected", None),
    ("lost", "lost", None),
    ("still pending", "pending", None),
)


def funnel(
    tally: LedgerTally, traffic_class: int | list[int] | None = None, inbound_only: bool = True
) -> list[dict]:
    """How many recipients each stage removed, and how many were left after it; what is left at the end
    was delivered. Of the original inbound recipients (``inbound_only``), or of all recipients; of one
    traffic class, those listed, or all."""
    counts = tally.states(inbound_only=inbound_only, traffic_class=traffic_class)  # [state, stage]
    offered = int(counts.sum())
    left = offered
    out = [{"step": "offered", "removed": 0, "left": left, "left_share": 1.0 if offered else None}]
    for step, st, stages in FUNNEL:
        row = counts[STATES.index(st)]
        if stages is None:
            removed = int(row.sum())
        else:
            removed = int(sum(row[tally.stages.index(g)] for g in stages if g in tally.stages))
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


def service_quality(model, tally: LedgerTally, smtp: dict, clients: dict | None = None) -> dict:
    """SPECmail2001-style quality figures against the targets in ``outputs.quality``; ``smtp`` is the SMTP
    service's block (its replies and transactions), ``clients`` the users' sessions' (their commands)."""
    q = model.scenario.outputs.quality
    transactions = smtp["transactions"]
    tempfails = sum(smtp["temporary_errors_by_stage"].values())
    replies = smtp["replies"]
    deliveries = tally.inbound_delivered
    figures = {
        "replies": replies,
        "replies_within_share": smtp["replies_within_target"] / replies if replies else None,
        "deliveries": deliveries,
        "deliveries_within_share": tally.inbound_delivered_within / deliveries if deliveries else None,
        "transactions": transactions,
        "temporary_errors": tempfails,
        "error_rate": tempfails / transactions if transactions else None,
    }
    if clients:  # the users' IMAP/POP commands, all protocols together
        commands = sum(c["commands"]["count"] for c in clients.values())
        within = sum(c["commands"]["count"] * (c["commands_within_target"] or 0) for c in clients.values())
        figures["commands"] = commands
        figures["commands_within_share"] = within / commands if commands else None
    met = {
        "replies": figures["replies_within_share"] is None
        or figures["replies_within_share"] >= q.reply_share,
        "deliveries": figures["deliveries_within_share"] is None
        or figures["deliveries_within_share"] >= q.delivery_share,
        "errors": figures["error_rate"] is None or figures["error_rate"] <= q.error_rate_max,
    }
    if clients:
        share = figures["commands_within_share"]
        met["commands"] = share is None or share >= q.command_share
    return {"targets": q.model_dump(), **figures, "met": met}


def tags(model, tally: LedgerTally) -> dict:
    """Stage 8 from the ledger: delivered recipients by the subject tag their score gave them."""
    by_tag: dict[str, int] = {}
    for s, n in enumerate(tally.delivered_scores.tolist()):
        tag = subject_tag(s, model.scenario.policies.spam)
        by_tag[tag] = by_tag.get(tag, 0) + n
    return {
        "delivered_tagged_spam_sure": by_tag.get("{SPAM!}", 0),
        "delivered_tagged_spam_maybe": by_tag.get("{SPAM?}", 0),
        "scanned_recipients": tally.scanned,
    }


def incidents(model, timeseries=None, tally: LedgerTally | None = None) -> list[dict]:
    """Each outage of a node, with what it does (the node's own effect and its dependents', the
    ``depends_on`` edges into it, each marked whether the model simulates it yet) and what it did
    (docs/outputs.md, "incidents"): SMTP transactions deferred while it lasted, the messages it left
    waiting on the frontends' spools and how long they took to drain, the longest extra delay of the mail
    offered while it lasted, and for the serving store the replication figures (RPO, RTO, lost)."""
    graph = model.graph
    smtp = model.groups["frontend"].service if "frontend" in model.groups else None
    pair = model.groups["store"].service if "store" in model.groups else None
    spool = _spool_total(timeseries)
    p50 = None
    if tally is not None and tally.latencies().n:
        p50 = float(tally.latencies().quantiles(np.array([0.5]))[0])
    out = []
    for k, i in enumerate(model.faults.incidents):
        down = math.isinf(i.factor)
        end = i.end if not math.isnan(i.end) else model.end
        dependents = sorted(
            {
                (graph.nodes[u]["kind"], d["effect"], d["modelled"])
                for u, _, kind, d in graph.in_edges(i.target, keys=True, data=True)
                if kind == "depends_on"
            }
        )
        entry = {
            "target": i.target,
            "class": i.kind,
            "start_s": i.start,
            "end_s": _finite(i.end),
            "duration_s": end - i.start,
            "cause": i.cause,
            "loss": i.loss,
            "degraded_factor": None if down else i.factor,
            "restarted_on": i.restarted_on,
            "effect": model.components[i.target].OUTAGE
            if down
            else f"works {i.factor:g} times slower (every service time of its CPU and disks)",
            "dependents": [{"class": c, "effect": e, "modelled": m} for c, e, m in dependents]
            if down
            else [],
            "refused": smtp.refused_between(i.start, end) if smtp is not None else 0,
            **_spooled(spool, i.start, end),
            "max_delay_s": None,
            "lost": i.lost,
        }
        if tally is not None and p50 is not None and k < len(tally.window_max):
            worst = tally.window_max[k]
            entry["max_delay_s"] = None if math.isnan(worst) else max(0.0, worst - p50)
        failure = pair.failure_of(i.target, i.start) if pair is not None and down else None
        if i.kind in ("store", "replica"):
            entry["rpo_messages"] = failure.rpo_messages if failure else None
            entry["rpo_s"] = failure.rpo_s if failure else None
            entry["rto_s"] = failure.rto_s if failure else None
        out.append(entry)
    return out


def _spool_total(timeseries):
    """(sample times, messages held on all the frontends' spools: their last try found the destination
    unavailable) from the time series, or None."""
    if timeseries is None or not len(timeseries) or "spool_held_messages" not in timeseries:
        return None
    total = timeseries.groupby("t")["spool_held_messages"].sum()
    return total.index.to_numpy(dtype=float), total.to_numpy(dtype=float)


def _spooled(spool, start: float, end: float) -> dict:
    """The spool figures of an incident from ``start`` to ``end``: the most messages held (their
    destination unavailable) above the level of the last sample before it, and the seconds from its end
    until the spools are back to that level (to within 5 % of that peak, and at least one message; None:
    not within the run). At the probe's sample interval."""
    if spool is None:
        return {"spooled_peak": 0, "time_to_drain_s": None}
    t, v = spool
    before_i = np.searchsorted(t, start, side="right") - 1
    before = v[before_i] if before_i >= 0 else 0.0
    during = t >= start
    if not during.any():
        return {"spooled_peak": 0, "time_to_drain_s": None}
    first_peak = float(v[during & (t <= end)].max()) if (during & (t <= end)).any() else before
    threshold = before + max(1.0, 0.05 * (first_peak - before))
    back = np.flatnonzero((t >= end) & (v <= threshold))
    drained_at = t[back[0]] if len(back) else math.inf
    peak = float(v[during & (t <= drained_at)].max()) - before
    if peak <= 0:
        return {"spooled_peak": 0, "time_to_drain_s": 0.0}
    return {
        "spooled_peak": int(peak),
        "time_to_drain_s": None if math.isinf(drained_at) else float(drained_at - end),
    }


def statistics_window(model, timeseries):
    """The probe's samples in the statistics window: after the warm-up, up to the horizon or, with
    ``outputs.statistics_include_drain``, the end."""
    clock = model.scenario.clock
    last = model.end if model.scenario.outputs.statistics_include_drain else clock.horizon
    return timeseries[(timeseries["t"] > clock.warmup) & (timeseries["t"] <= last)]


def collect(model, window) -> dict[str, dict]:
    """The blocks the parts report: a component's entry goes under its node name, a service's block
    stands as it is. Stations get their highest sampled utilisation in the statistics window (``window``,
    the probe's samples from ``statistics_window``)."""
    out: dict[str, dict] = {}
    for comp in model.components.values():
        for block, entry in comp.results().items():
            out.setdefault(block, {})[comp.name] = entry
    peaks = disk_peaks = {}
    if len(window):
        by = window.groupby("component", observed=True)
        peaks, disk_peaks = by["utilisation"].max().to_dict(), by["disk_utilisation"].max().to_dict()
    for name, entry in out.get("components", {}).items():
        for k, v in entry.items():
            entry[k] = _finite(v)
        entry["utilisation_peak"] = _finite(peaks.get(name, float("nan")))
        if "disk_utilisation" in entry:
            entry["disk_utilisation_peak"] = _finite(disk_peaks.get(name, float("nan")))
    for service in model.services:
        out.update(service.results())
    return out


def latency_cdfs(tally: LedgerTally, groups: dict[str, list[int]] | None = None) -> dict[str, dict]:
    """Per traffic class (or per group of classes, ``groups``: name -> class codes) with deliveries: their
    count and the latency at ``LATENCY_QUANTILES`` (what the report's CDF draws)."""
    if groups is None:
        groups = {name: [c] for c, name in enumerate(tally.classes)}
    out = {}
    for name, codes in groups.items():
        h = tally.latencies(codes)
        if h.n:
            out[name] = {"count": h.n, "seconds": h.quantiles(LATENCY_QUANTILES)}
    return out


def direction_groups(scenario, tally: LedgerTally) -> dict[str, list[int]]:
    """The traffic classes (codes) with recipients, by direction of mail (``Workload.directions``; a
    traffic class of a generic source is its own direction; what the platform writes itself, bounces,
    warnings, notices, digests and what Sieve scripts send, is ``platform``), in the workload's order."""
    of = scenario.workload.directions()
    by_class = tally.by_class()
    groups: dict[str, list[int]] = {}
    for c, name in enumerate(tally.classes):
        if c < len(by_class) and by_class[c].any():
            groups.setdefault(of.get(name, "platform" if name in PLATFORM_CLASSES else name), []).append(c)
    # the workload's directions in their order, then generic sources' classes, then the platform's own mail
    order = list(dict.fromkeys(of.values()))
    ranked = sorted(groups, key=lambda d: (d == "platform", order.index(d) if d in order else len(order)))
    return {d: groups[d] for d in ranked}


def directions(model, tally: LedgerTally) -> dict[str, dict]:
    """Per direction of mail (``direction_groups``): its traffic classes, recipients by state, the delivery
    latency, and the share of deliveries within the quality target (``outputs.quality.delivery_within``)."""
    by_class = tally.by_class()
    out = {}
    for direction, codes in direction_groups(model.scenario, tally).items():
        counts = by_class[codes].sum(axis=0)
        h = tally.latencies(codes)
        within = int(tally.within[codes].sum())
        out[direction] = {
            "classes": [tally.classes[c] for c in codes],
            "recipients": {"offered": int(counts.sum()), **{s: int(counts[i]) for i, s in enumerate(STATES)}},
            "delivery_latency": _latency(h),
            "delivered_within_share": within / h.n if h.n else None,
        }
    return out


# The traffic classes of the messages the platform writes itself (bounces, delay warnings and notices of the
# frontends, the quarantine's digests, what Sieve scripts send): the direction ``platform``.
PLATFORM_CLASSES = frozenset(
    ("bounce", "delay_warning", "attachment_notice", "quarantine_digest", "redirect", "vacation")
)


def compute_kpis(model, timeseries, tally: LedgerTally) -> dict:
    recipients, conservation = recipients_and_conservation(model, tally)
    lat = {"all": _latency(tally.latencies())}
    for c, name in enumerate(tally.classes):
        lat[name] = _latency(tally.latencies(c))
    window = statistics_window(model, timeseries)
    blocks = collect(model, window)
    out = {
        "scenario": model.scenario.meta.name,
        "seed": model.seed,
        "simulated_seconds": model.end,
        "messages_offered": sum(s.offered_messages for s in model.sources),
        "recipients": recipients,
        "conservation_ok": conservation["ok"],
        "conservation": conservation,
        "by_traffic_class": _by(tally.by_class(), tally.classes),
        "by_stage": _by(tally.by_stage(), tally.stages),
        "delivery_latency": lat,
        "directions": directions(model, tally),
        "components": blocks.pop("components", {}),
        "queues": blocks.pop("queues", {}),
        "incidents": incidents(model, timeseries, tally),
        "peak_hour": peak_hour(model, window),
    }
    out["oracle"] = oracle(out["components"])
    smtp = blocks.pop("smtp", None)
    funnels = {}
    if tally.counts[1].any() and smtp is not None:
        funnels["inbound"] = funnel(tally)
        for c, name in enumerate(tally.classes):
            if name.startswith("inbound-"):
                funnels[name] = funnel(tally, c)
        out["service_quality"] = service_quality(model, tally, smtp, blocks.get("clients"))
        out["smtp"] = {**smtp, **tags(model, tally)}
    for direction, codes in direction_groups(model.scenario, tally).items():
        if direction not in ("inbound", "platform"):  # the users' mail, the relay, the lists' copies
            funnels[direction] = funnel(tally, codes, inbound_only=False)
    if funnels:
        out["funnel"] = funnels
    out.update(blocks)
    results = [evaluate(parse_expectation(text), out) for text in model.scenario.expect]
    out["expectations"] = results
    out["expectations_ok"] = all(r["ok"] for r in results)
    return out


def _finite(v: float) -> float | None:
    """JSON has no NaN: a statistic with no data is null."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
