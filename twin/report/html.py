"""The report page of a run (report.html beside plots/): outcome table, conservation, funnel, service
quality, components and their headroom, queues, incidents, dependencies, latency, and the facts that
reproduce it. Rendered from ``templates/report.html.j2`` with Jinja2, which escapes every value: a name or
description from a scenario shows as text, never as markup."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from twin.io import write_text
from twin.report import plots
from twin.topology import dependencies, single_points_of_failure


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


def _verdict(ok: bool) -> dict:
    """A cell the template shows as a coloured met / missed."""
    return {"verdict": bool(ok), "text": "met" if ok else "missed"}


def _funnel(k: dict) -> dict | None:
    if "funnel" not in k:
        return None
    classes = list(k["funnel"])
    if any(not c.startswith("inbound") for c in classes):  # several directions: the inbound one as a whole
        classes = [c for c in classes if not c.startswith("inbound-")]
    rows = []
    for i, step in enumerate(k["funnel"][classes[0]]):
        row = [step["step"]]
        for cls in classes:
            s = k["funnel"][cls][i]
            row += [s["removed"], f"{s['left_share']:.1%}" if s["left_share"] is not None else "-"]
        rows.append(row)
    head = ["stage"] + [h for cls in classes for h in (f"{cls}: removed", f"{cls}: left")]
    return {"head": head, "rows": rows, "classes": classes}


def _quality(k: dict) -> list[list]:
    if "service_quality" not in k:
        return []
    q = k["service_quality"]
    t = q["targets"]

    def share(v):
        return "-" if v is None else f"{v:.2%}"

    return [
        [
            f"SMTP replies within {t['reply_within']}",
            share(q["replies_within_share"]),
            f">= {t['reply_share']:.0%}",
            _verdict(q["met"]["replies"]),
        ],
        [
            f"deliveries within {t['delivery_within']}",
            share(q["deliveries_within_share"]),
            f">= {t['delivery_share']:.0%}",
            _verdict(q["met"]["deliveries"]),
        ],
        [
            "temporary errors per SMTP transaction",
            share(q["error_rate"]),
            f"<= {t['error_rate_max']:.0%}",
            _verdict(q["met"]["errors"]),
        ],
    ] + (
        [
            [
                f"IMAP/POP commands within {t['command_within']}",
                share(q["commands_within_share"]),
                f">= {t['command_share']:.0%}",
                _verdict(q["met"]["commands"]),
            ]
        ]
        if "commands" in q
        else []
    )


def _incidents(k: dict) -> list[list]:
    def figure(v, fmt=_hms):
        return "–" if v is None else fmt(v)

    rows = []
    for i in k["incidents"]:
        what = "; ".join(
            [i["effect"]]
            + [
                f"{d['class']}: {d['effect']}" + ("" if d["modelled"] else " (not modelled yet)")
                for d in i["dependents"]
            ]
        )
        if i.get("restarted_on"):
            what += f"; VMware HA restarted it on {i['restarted_on']}"
        rows.append(
            [
                i["target"],
                i["class"] + (" (loss)" if i.get("loss") else ""),
                _hms(i["start_s"]),
                "still down" if i["end_s"] is None else _hms(i["end_s"]),
                _hms(i["duration_s"]),
                i["cause"],
                f"{i.get('refused', 0):,}",
                f"{i.get('spooled_peak', 0):,}",
                figure(i.get("time_to_drain_s")),
                figure(i.get("max_delay_s")),
                figure(i.get("rpo_messages"), "{:,}".format) + " / " + figure(i.get("rpo_s"))
                if "rpo_s" in i
                else "–",
                figure(i.get("rto_s")) if "rto_s" in i else "–",
                f"{i.get('lost', 0):,}",
                what,
            ]
        )
    return rows


def _replication(k: dict) -> list[list]:
    r = k.get("replication")
    if not r:
        return []
    return [
        ["replicated messages", f"{r['replicated']:,}"],
        [
            "lag p50 / p95 / max",
            " / ".join("–" if r[f] is None else _hms(r[f]) for f in ("lag_p50_s", "lag_p95_s", "lag_max_s")),
        ],
        ["backlog peak (messages)", f"{r['backlog_peak_messages']:,}"],
        ["switch-overs / failbacks", f"{r['switchovers']} / {r['failbacks']}"],
        ["recovered / lost recipients", f"{r['recovered']:,} / {r['lost']:,}"],
        ["serving at the end", r["serving"]],
    ]


def _directions(k: dict) -> list[list]:
    """Per direction of mail: where its recipients ended, and how long delivery took (docs/outputs.md)."""
    rows = []
    for name, d in k.get("directions", {}).items():
        r, lat = d["recipients"], d["delivery_latency"]
        within = d["delivered_within_share"]
        rows.append(
            [
                name,
                r["offered"],
                r["delivered"],
                r["rejected"],
                r["bounced"],
                r["quarantined"] + r["attachment_held"],
                r["discarded"] + r["redirected"],
                r["lost"] + r["expired_at_sender"],
                r["pending"],
                lat.get("p50_s"),
                lat.get("p95_s"),
                "" if within is None else f"{100 * within:.1f} %",
            ]
        )
    return rows


def _quarantine(k: dict) -> list[list]:
    """Stage 7 as the users see it: what went in, the digests, what they asked for (docs/inbound.md)."""
    q = k.get("quarantine")
    if not q or not q["held"]:
        return []
    return [
        ["recipients quarantined", f"{q['held']:,}"],
        ["digests sent (bytes)", f"{q['digests_sent']:,} ({q['digest_bytes']:,})"],
        ["asked for / released", f"{q['to_release']:,} / {q['released']:,}"],
        ["deleted after the retention", f"{q['expired']:,}"],
        ["held at the end", f"{q['in_quarantine_at_end']:,}"],
        ["bytes held at the end / at the peak", f"{q['bytes_at_end']:,} / {q['peak_bytes']:,}"],
    ]


def _sieve(k: dict) -> list[list]:
    """Stage 12 per script template: mailboxes, runs and what the runs did (docs/sieve.md)."""
    sv = k.get("sieve")
    if not sv:
        return []
    rows = [
        [
            s["script"] + ("" if s["compiles"] else " (does not compile)"),
            s["mailboxes"],
            s["runs"],
            s["delivered"],
            s["failed"],
            s["discarded"],
            s["redirected"],
            s["redirects_sent"],
            s["vacation_sent"],
        ]
        for s in sv["scripts"]
    ]
    keys = ("runs", "delivered", "failed", "discarded", "redirected", "redirects_sent", "vacation_sent")
    total_boxes = sum(s["mailboxes"] for s in sv["scripts"])
    return [*rows, ["all", total_boxes, *(sv[f] for f in keys)]]


def _clients(k: dict) -> list[list]:
    """The users' sessions per protocol: logins and why they failed, what was read and deleted, and the
    commands' latency against the quality target (docs/clients.md)."""
    rows = []
    for name, c in (k.get("clients") or {}).items():
        cmd = c["commands"]
        failures = "; ".join(f"{r} {n:,}" for r, n in c["failures"].items())
        within = c["commands_within_target"]
        rows.append(
            [
                name,
                f"{c['logins']:,}",
                f"{c['login_failures']:,}" + (f" ({failures})" if failures else ""),
                f"{c['sessions']:,}",
                f"{c['sessions_cut']:,}",
                f"{c['messages_fetched']:,}",
                f"{c['messages_deleted']:,}",
                f"{cmd['count']:,}",
                cmd.get("p50_s"),
                cmd.get("p95_s"),
                cmd.get("p99_s"),
                "-" if within is None else f"{within:.2%}",
            ]
        )
    return rows


def _backup(k: dict, start: pd.Timestamp, tz: str) -> dict | None:
    """The nightly backups (docs/backup.md): a row per night, the storage, and the latency of LMTP and
    the users' commands while a backup ran against otherwise."""
    if not any(b["nights"] for b in (k.get("backup") or {}).values()):
        return None  # no backup, or the run ended before the first one was due

    def local(s):
        return "-" if s is None else (start + pd.Timedelta(seconds=s)).tz_convert(tz).strftime("%a %H:%M")

    nights, summary = [], []
    for node, b in k["backup"].items():
        for n in b["nights"]:
            nights.append(
                [
                    node,
                    local(n["start_s"]),
                    n["status"] + (f" ({n['reason']})" if n.get("reason") else ""),
                    local(n.get("end_s")),
                    None if n.get("duration_s") is None else n["duration_s"] / 3600,
                    None if n.get("overrun_s") is None else n["overrun_s"] / 3600,
                    f"{n['files']:,}" if "files" in n else "-",
                    None if "new_bytes" not in n else n["new_bytes"] / 1e9,
                    n.get("disk_utilisation"),
                ]
            )
        summary += [
            [
                f"{node}: nights completed / failed / missed",
                f"{b['completed']} / {b['failed']} / {b['missed']}",
            ],
            [
                "backup storage now (active versions)",
                f"{b['storage_bytes'] / 1e12:.2f} TB ({b['storage_active_bytes'] / 1e12:.2f} TB)",
            ],
            ["deleted mail a day (kept for the retention)", f"{b['deleted_per_day_bytes'] / 1e9:.1f} GB"],
            ["storage the retention implies at this rate", f"{b['storage_steady_bytes'] / 1e12:.2f} TB"],
        ]
    latency = []
    for store, lat in (k.get("lmtp_latency") or {}).items():
        if lat["all"]["count"]:
            latency.append(
                [f"LMTP at {store}", *_during(lat["during_backup"]), *_during(lat["outside_backup"])]
            )
    for name, c in (k.get("clients") or {}).items():
        latency.append(
            [
                f"{name} commands",
                *_during(c["commands_during_backup"]),
                *_during(c["commands_outside_backup"]),
            ]
        )
    return {"nights": nights, "summary": summary, "latency": latency}


def _storage(k: dict) -> list[list]:
    """Per array (the stores' RAID arrays, the SAN): capacity, what it holds at the start and the end, the
    growth a day at the run's rate and the days until it is full at that rate (docs/storage.md)."""
    rows = []
    for node, st in (k.get("storage") or {}).items():
        cap = st["capacity_bytes"]
        rows.append(
            [
                node,
                "-" if cap is None else f"{cap / 1024**4:.2f} TB",
                f"{st['used_start_bytes'] / 1024**4:.3f} TB",
                f"{st['used_bytes'] / 1024**4:.3f} TB"
                + ("" if cap is None else f" ({st['used_share']:.0%})"),
                f"{st['growth_bytes_per_day'] / 1024**3:+.1f} GB",
                "-" if st["days_left"] is None else f"{st['days_left']:,.0f}",
            ]
        )
    return rows


def _oracle(k: dict) -> list[list]:
    """Per station: queueing theory's prediction beside the run's (analysis/oracle.py), and its verdict."""

    def ms(v):
        return "-" if v is None else f"{v * 1000:.3g}"

    def scv(v):
        return "-" if v is None else f"{v:.2f}"

    rows = []
    for name, o in (k.get("oracle") or {}).items():
        verdict = {"verdict": not o["warnings"], "text": "; ".join(o["warnings"]) or "agrees"}
        rows.append(
            [
                name,
                f"{o['throughput_per_s']:.3g}",
                ms(o["service_s"]),
                o["servers"],
                f"{o['utilisation_predicted']:.2%}",
                f"{o['utilisation_simulated']:.2%}",
                scv(o["arrival_scv"]),
                scv(o["service_scv"]),
                ms(o["wait_mmc_s"]),
                ms(o["wait_ggc_s"]),
                ms(o["wait_simulated_s"]),
                verdict,
            ]
        )
    return rows


def _peak_hour(k: dict) -> list[list]:
    """Per class: its hardware and the busiest hour of its CPU and of its disk (analysis/peak_hour.py)."""

    def hour(b):
        return "-" if b is None else pd.Timestamp(b["hour"]).strftime("%a %H:00")

    def pct(b, key="utilisation"):
        return "-" if b is None else f"{b[key]:.1%}"

    return [
        [
            kind,
            p["hardware"],
            p["cpu_servers"] or "-",
            hour(p["cpu"]),
            pct(p["cpu"]),
            pct(p["cpu"], "busiest_instance"),
            p["disk_servers"] or "-",
            hour(p["disk"]),
            pct(p["disk"]),
        ]
        for kind, p in (k.get("peak_hour") or {}).items()
    ]


def _during(h: dict) -> list:
    return [f"{h['count']:,}", h.get("p50_s"), h.get("p95_s")]


def _lists(k: dict) -> list[list]:
    """Mailman on the list server: posts, copies, retries and bounce scores (docs/lists.md)."""
    rows = []
    for node, m in (k.get("mailman") or {}).items():
        deferred = m["smtp"]["temporary_errors_by_stage"] if "smtp" in m else {}
        rows += [
            [
                f"{node}: lists, members (enabled at the end)",
                f"{m['lists']:,}, {m['members']:,} ({m['members_enabled']:,})",
            ],
            ["posts received / expanded", f"{m['posts_received']:,} / {m['posts_expanded']:,}"],
            ["copies (transactions) / their recipients", f"{m['copies']:,} / {m['copy_recipients']:,}"],
            ["expansions deferred (directory or list server down)", f"{m['expansions_deferred']:,}"],
            [
                "transactions deferred (hourly retries), by reason",
                f"{m['transactions_deferred']:,}" + "".join(f"; {r} {n:,}" for r, n in deferred.items()),
            ],
            [
                "members refused at RCPT / bounces received",
                f"{m['refused_at_rcpt']:,} / {m['bounces_received']:,}",
            ],
            [
                "bounces scored / residual; members disabled",
                f"{m['bounces_scored']:,} / {m['bounces_residual']:,}; {m['members_disabled']:,}",
            ],
            ["lost: posts / copies", f"{m['posts_lost']:,} / {m['copies_lost']:,}"],
            [
                "at the end: posts waiting / copies retrying",
                f"{m['posts_waiting_at_end']:,} / {m['copies_retrying_at_end']:,}",
            ],
        ]
    return rows


def _facts(res) -> list[tuple[str, str]]:
    """What a reader needs to run this again and get the same ledger."""
    run = res.run
    facts = [
        ("mailtwin", f"{run['mailtwin_version']} (commit {run.get('commit') or 'unknown'})"),
        (
            "scenario",
            f"{run.get('source') or res.scenario.meta.name} (sha256 {run['scenario_sha256'][:16]}…)",
        ),
        ("--set", " ".join(run.get("overrides") or []) or "none"),
        ("seed", str(res.seed)),
        ("command", run.get("command") or "twin.simulate(scenario, seed)"),
        ("python", f"{run['python']} on {run['platform']}"),
        ("packages", ", ".join(f"{n} {v}" for n, v in run["packages"].items())),
    ]
    return facts


_ENV = None


def _template():
    global _ENV
    if _ENV is None:
        from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

        _ENV = Environment(
            loader=PackageLoader("twin.report", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
        )
        _ENV.filters["fmt"] = _fmt
    return _ENV.get_template("report.html.j2")


def write_report(res, out: Path) -> list[Path]:
    k, sc = res.kpis, res.scenario
    tz = sc.clock.timezone
    plot_dir = out / "plots"
    written = {"outcomes": plots.outcomes(k["recipients"], plot_dir / "outcomes.png")}
    if "funnel" in k:
        shown = {c: v for c, v in k["funnel"].items() if c in _funnel(k)["classes"]}
        written["funnel"] = plots.funnel(shown, plot_dir / "funnel.png")
    by_class = dict(res.latency)
    if len(res.latency_by_direction) > 1:  # several directions of mail: one curve each
        by_class = dict(res.latency_by_direction)
    elif any(c.startswith("inbound") for c in by_class):  # mail from outside: what users wait for
        by_class = {c: v for c, v in by_class.items() if c.startswith("inbound")}
    if by_class:
        written["latency"] = plots.latency_cdf(
            by_class, plot_dir / "latency.png", sc.outputs.quality.delivery_within
        )
    if k["components"]:
        written["headroom"] = plots.headroom(k["components"], plot_dir / "headroom.png")
    if len(res.timeseries):
        start = pd.Timestamp(sc.clock.t0)
        horizon_end = None if sc.clock.drain == 0 else start + pd.Timedelta(seconds=sc.clock.horizon)
        spans: dict[str, list] = {}
        for inc in k["incidents"]:
            end = inc["end_s"] if inc["end_s"] is not None else sc.end
            span = (start + pd.Timedelta(seconds=inc["start_s"]), start + pd.Timedelta(seconds=end))
            if span not in spans.setdefault(inc["class"], []):  # several instances down together: shade once
                spans[inc["class"]].append(span)
        written["utilisation"] = plots.utilisation(
            res.timeseries, plot_dir / "utilisation.png", tz, horizon_end, spans
        )
        if k["queues"]:
            spool_rows = res.timeseries[res.timeseries["component"].isin(list(k["queues"]))]
            written["spool"] = plots.gauge(
                "spool", spool_rows, plot_dir / "spool.png", tz, horizon_end, spans
            )
        if k.get("clients"):
            stores = res.timeseries[res.timeseries["kind"].isin(["store", "replica"])]
            written["sessions"] = plots.gauge(
                "sessions", stores, plot_dir / "sessions.png", tz, horizon_end, spans
            )
        if k.get("storage"):
            column = {"store": "mailbox_bytes", "replica": "mailbox_bytes", "san": "san_used_bytes"}
            series = {}
            for node, st in k["storage"].items():
                rows = res.timeseries[res.timeseries["component"] == node]
                kind = str(rows["kind"].iloc[0]) if len(rows) else ""
                if kind in column:
                    series[node] = (rows.set_index("time")[column[kind]], st["capacity_bytes"])
            if series:
                written["storage"] = plots.storage(series, plot_dir / "storage.png", tz, horizon_end)
        if any(b["nights"] for b in (k.get("backup") or {}).values()):
            stores = res.timeseries[res.timeseries["kind"].isin(["store", "replica"])]
            ran, windows = [], []
            for b in k["backup"].values():
                for n in b["nights"]:
                    windows.append(
                        (start + pd.Timedelta(seconds=n["start_s"]), start + pd.Timedelta(seconds=n["due_s"]))
                    )
                    if n.get("end_s") is not None or n["status"] == "running":
                        end = n.get("end_s", sc.end)
                        ran.append(
                            (start + pd.Timedelta(seconds=n["start_s"]), start + pd.Timedelta(seconds=end))
                        )
            written["backup"] = plots.backup(stores, plot_dir / "backup.png", tz, ran, windows, horizon_end)
        if k.get("replication"):
            stores = res.timeseries[res.timeseries["kind"].isin(["store", "replica"])]
            written["replication"] = plots.gauge(
                "replication", stores, plot_dir / "replication.png", tz, horizon_end, spans
            )

    rec = k["recipients"]
    offered = rec["offered"] or 1
    page = _template().render(
        res=res,
        sc=sc,
        k=k,
        run=res.run,
        start=sc.clock.t0.isoformat(),
        horizon=f"{sc.clock.horizon / 86400:g} d",
        drain=f"{sc.clock.drain / 3600:g} h",
        outcomes=[[s, n, f"{n / offered:.2%}"] for s, n in rec.items() if s != "offered"],
        funnel=_funnel(k),
        quality=_quality(k),
        temporary=k.get("smtp", {}).get("temporary_errors_by_stage", {}),
        components=[
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
        ],
        queues=[
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
        ],
        incidents=_incidents(k),
        replication=_replication(k),
        sieve=_sieve(k),
        quarantine=_quarantine(k),
        directions=_directions(k),
        lists=_lists(k),
        clients=_clients(k),
        backup=_backup(k, pd.Timestamp(sc.clock.t0), tz),
        storage=_storage(k),
        peak_hour=_peak_hour(k),
        oracle=_oracle(k),
        dependencies=[
            [d.dependent, d.on, d.effect, "yes" if d.modelled else f"no: {d.missing}"]
            for d in dependencies(res.graph)
        ],
        spofs=[
            [
                p.node + (f" (with {', '.join(p.down[1:])})" if len(p.down) > 1 else ""),
                ", ".join(p.routes),
                p.effect,
            ]
            for p in single_points_of_failure(
                res.graph, sc.workload.inbound_classes(), sc.workload.submitted_classes()
            )
        ],
        latency=[
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
        ],
        scanners=k.get("scanners", {}),
        plots=written,
        facts=_facts(res),
    )
    write_text(out / "report.html", page)
    return [*written.values(), out / "report.html"]
