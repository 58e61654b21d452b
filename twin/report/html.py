"""A self-contained report page per run: outcome table, conservation, components, latency, plots."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from twin.io import write_text
from twin.report import plots
from twin.topology import dependencies

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0 1.5rem} th,td{padding:.25rem .7rem;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f6f8} td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#2e7d32;font-weight:600} .bad{color:#c62828;font-weight:600} img{max-width:100%}
"""


def _table(head: list[str], rows: list[list], numeric_from: int = 1) -> str:
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>")
        for i, v in enumerate(row):
            cls = ' class="n"' if i >= numeric_from else ""
            out.append(f"<td{cls}>{html.escape(_fmt(v))}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def _hms(seconds: float) -> str:
    """Simulated time as d hh:mm:ss."""
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}d {h:02d}:{m:02d}:{s:02d}" if d else f"{h:02d}:{m:02d}:{s:02d}"


def _funnel_and_quality(k: dict) -> list[str]:
    """The inbound funnel (table and plot) and the SPECmail-style quality figures."""
    if "funnel" not in k:
        return []
    classes = list(k["funnel"])
    steps = k["funnel"][classes[0]]
    rows = []
    for i, step in enumerate(steps):
        row = [step["step"]]
        for cls in classes:
            s = k["funnel"][cls][i]
            row += [s["removed"], f"{s['left_share']:.1%}" if s["left_share"] is not None else "-"]
        rows.append(row)
    head = ["stage"] + [h for cls in classes for h in (f"{cls}: removed", f"{cls}: left")]
    q = k["service_quality"]
    t = q["targets"]

    def share(v):
        return "-" if v is None else f"{v:.2%}"

    def met(ok):
        return '<span class="ok">met</span>' if ok else '<span class="bad">missed</span>'

    q_rows = [
        [
            f"SMTP replies within {t['reply_within']}",
            share(q["replies_within_share"]),
            f">= {t['reply_share']:.0%}",
            met(q["met"]["replies"]),
        ],
        [
            f"deliveries within {t['delivery_within']}",
            share(q["deliveries_within_share"]),
            f">= {t['delivery_share']:.0%}",
            met(q["met"]["deliveries"]),
        ],
        [
            "temporary errors per SMTP transaction",
            share(q["error_rate"]),
            f"<= {t['error_rate_max']:.0%}",
            met(q["met"]["errors"]),
        ],
    ]
    temp = k["smtp"]["temporary_errors_by_stage"]
    return [
        "<h2>Inbound funnel</h2>",
        "<p>Original inbound recipients, stage by stage (PLATFORM.md §2); what is left at the end was "
        "delivered.</p>",
        _table(head, rows),
        "<img src='plots/funnel.png' alt='funnel'>",
        "<h2>Service quality (SPECmail2001 style)</h2>",
        _table(["figure", "value", "target", ""], q_rows),
        "<p>Temporary errors by stage: "
        + (", ".join(f"{html.escape(s)} {n:,}" for s, n in temp.items()) or "none")
        + f". Delivered with {{SPAM!}}: {k['smtp']['delivered_tagged_spam_sure']:,}, with {{SPAM?}}: "
        f"{k['smtp']['delivered_tagged_spam_maybe']:,}.</p>",
    ]


def write_report(res, out: Path) -> list[Path]:
    k, sc = res.kpis, res.scenario
    tz = sc.clock.timezone
    plot_dir = out / "plots"
    written = [plots.outcomes(k["recipients"], plot_dir / "outcomes.png")]
    if "funnel" in k:
        written.append(plots.funnel(k["funnel"], plot_dir / "funnel.png"))
    by_class = dict(res.latency)
    if any(c.startswith("inbound") for c in by_class):  # mail from outside: what users wait for
        by_class = {c: v for c, v in by_class.items() if c.startswith("inbound")}
    if by_class:
        written.append(
            plots.latency_cdf(by_class, plot_dir / "latency.png", sc.outputs.quality.delivery_within)
        )
    if len(res.timeseries):
        horizon_end = pd.Timestamp(sc.clock.t0) + pd.Timedelta(seconds=sc.clock.horizon)
        if sc.clock.drain == 0:
            horizon_end = None  # the plot ends there anyway
        start = pd.Timestamp(sc.clock.t0)
        spans: dict[str, list] = {}
        for inc in k["incidents"]:
            end = inc["end_s"] if inc["end_s"] is not None else sc.end
            span = (start + pd.Timedelta(seconds=inc["start_s"]), start + pd.Timedelta(seconds=end))
            if span not in spans.setdefault(inc["class"], []):  # several instances down together: shade once
                spans[inc["class"]].append(span)
        written.append(
            plots.utilisation(res.timeseries, plot_dir / "utilisation.png", tz, horizon_end, spans)
        )
        written.append(plots.queues(res.timeseries, plot_dir / "queues.png", tz, horizon_end, spans))
        if k["queues"]:
            spool_rows = res.timeseries[res.timeseries["component"].isin(list(k["queues"]))]
            written.append(plots.spool(spool_rows, plot_dir / "spool.png", tz, horizon_end, spans))

    rec = k["recipients"]
    offered = rec["offered"] or 1
    outcome_rows = [[s, n, f"{n / offered:.2%}"] for s, n in rec.items() if s != "offered"]
    cons = k["conservation"]
    verdict = '<span class="ok">holds</span>' if k["conservation_ok"] else '<span class="bad">VIOLATED</span>'
    comp_rows = [
        [
            name,
            c["kind"],
            c["servers"],
            c["customers"],
            c["utilisation"],
            c["utilisation_peak"],
            c["mean_wait"],
            c["mean_sojourn"],
        ]
        for name, c in k["components"].items()
    ]
    lat_rows = [
        [
            cls,
            v.get("count", 0),
            v.get("mean_s"),
            v.get("p50_s"),
            v.get("p95_s"),
            v.get("p99_s"),
            v.get("max_s"),
        ]
        for cls, v in k["delivery_latency"].items()
    ]
    run = res.run
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>mailtwin: {html.escape(sc.meta.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(sc.meta.name)}</h1>",
        f"<p class='sub'>{html.escape(sc.meta.description)}</p>",
        f"<p>Start {sc.clock.t0.isoformat()} ({html.escape(tz)}), horizon {sc.clock.horizon / 86400:g} d, "
        f"drain {sc.clock.drain / 3600:g} h, seed {res.seed}. {run['events_processed']:,} events in "
        f"{run['wall_seconds']:.1f} s wall. mailtwin {html.escape(run['mailtwin_version'])}.</p>",
        "<h2>Recipients by final state</h2>",
        f"<p>Conservation law {verdict}: {cons['offered_by_sources']:,} recipients offered by the sources, "
        f"{cons['ledger_rows']:,} ledger rows, {cons['rows_finalised_twice']} finalised twice.</p>",
        _table(["state", "recipients", "share"], outcome_rows),
        "<img src='plots/outcomes.png' alt='outcomes'>",
        *_funnel_and_quality(k),
        "<h2>Components</h2>",
        _table(
            [
                "component",
                "class",
                "servers",
                "served",
                "utilisation",
                "peak",
                "mean wait s",
                "mean sojourn s",
            ],
            comp_rows,
            numeric_from=2,
        )
        if comp_rows
        else "<p>No component does queued work in this scenario.</p>",
    ]
    if len(res.timeseries):
        parts += [
            "<img src='plots/utilisation.png' alt='utilisation'>",
            "<img src='plots/queues.png' alt='queues'>",
        ]
    if k["queues"]:
        q_rows = [
            [
                name,
                q["accepted"],
                q["attempts"],
                q["refused"],
                q["retry_time_not_reached"],
                q["bounced"],
                q["warnings_sent"],
                q["spool_peak_messages"],
                q["spool_at_end"],
            ]
            for name, q in k["queues"].items()
        ]
        parts += [
            "<h2>Exim queues</h2>",
            _table(
                [
                    "frontend",
                    "accepted",
                    "delivery attempts",
                    "refused",
                    "retry time not reached",
                    "bounced",
                    "warnings",
                    "spool peak",
                    "spool at end",
                ],
                q_rows,
            ),
            "<img src='plots/spool.png' alt='spool'>",
        ]
    if k["incidents"]:
        inc_rows = [
            [
                i["target"],
                i["class"],
                _hms(i["start_s"]),
                "still down" if i["end_s"] is None else _hms(i["end_s"]),
                _hms(i["duration_s"]),
                i["cause"],
                "; ".join(
                    [i["effect"]]
                    + [
                        f"{d['class']}: {d['effect']}" + ("" if d["modelled"] else " (not modelled yet)")
                        for d in i["dependents"]
                    ]
                ),
            ]
            for i in k["incidents"]
        ]
        parts += [
            "<h2>Incidents</h2>",
            "<p>Shaded red in the plots above; times are simulated time since the start.</p>",
            _table(["node", "class", "down at", "up at", "for", "cause", "what it does"], inc_rows, 7),
        ]
    deps = dependencies(res.graph)
    if deps:
        parts += [
            "<h2>Dependencies</h2>",
            "<p>What a class does while no instance of a class it depends on can be reached (docs/"
            "architecture.md). Where the model does not simulate an effect yet, an outage of that "
            "dependency changes nothing in this run.</p>",
            _table(
                ["class", "depends on", "effect", "simulated"],
                [[d.dependent, d.on, d.effect, "yes" if d.modelled else f"no: {d.missing}"] for d in deps],
                numeric_from=4,
            ),
        ]
    parts += [
        "<h2>Delivery latency (offered to delivered)</h2>",
        _table(["traffic class", "delivered", "mean s", "p50 s", "p95 s", "p99 s", "max s"], lat_rows),
        "<img src='plots/latency.png' alt='latency CDF'>" if by_class else "",
        "</body></html>",
    ]
    write_text(out / "report.html", "\n".join(parts))
    return [*written, out / "report.html"]
