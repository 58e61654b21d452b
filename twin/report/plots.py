"""Plots a planner looks at: where the recipients ended, how busy each component class was."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd

from twin.io import atomic_path

STATE_COLOURS = {
    "delivered": "#2e7d32",
    "rejected": "#c62828",
    "bounced": "#ef6c00",
    "quarantined": "#6a1b9a",
    "attachment_held": "#8e24aa",
    "discarded": "#546e7a",
    "redirected": "#0277bd",
    "lost": "#000000",
    "expired_at_sender": "#795548",
    "pending": "#f9a825",
}


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


def outcomes(recipients: dict[str, int], path: Path) -> Path:
    """Horizontal bars: recipients per final state, with count and share."""
    offered = recipients["offered"]
    states = [(s, n) for s, n in recipients.items() if s != "offered" and n > 0]
    fig, ax = plt.subplots(figsize=(8, 0.5 * max(len(states), 1) + 1.4))
    names = [s for s, _ in states][::-1]
    values = [n for _, n in states][::-1]
    bars = ax.barh(names, values, color=[STATE_COLOURS.get(s, "#888") for s in names])
    for bar, v in zip(bars, values, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f"  {v:,}  ({v / offered:.1%})",
            va="center",
            fontsize=9,
        )
    ax.set_xlim(0, max(values or [1]) * 1.35)
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("recipients")
    ax.set_title(f"Where the {offered:,} offered recipients ended")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def _mark_horizon(ax, horizon_end: pd.Timestamp | None, tz: str) -> None:
    """The end of the offered traffic: what follows is the drain."""
    if horizon_end is not None:
        ax.axvline(horizon_end.tz_convert(tz), color="#555", ls="--", lw=0.8)


def _mark_incidents(
    ax, incidents: list[tuple[pd.Timestamp, pd.Timestamp]], tz: str, color: str = "#c62828"
) -> None:
    """Outages (or other periods: ``color``) as shaded spans."""
    for start, end in incidents:
        ax.axvspan(start.tz_convert(tz), end.tz_convert(tz), color=color, alpha=0.12, lw=0)


def _timeline(fig, ax, path: Path, tz: str, title: str) -> Path:
    """Finish and save a one-panel plot over time: its title, local times, the legend beside it, a grid."""
    ax.set_title(title)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M", tz=tz))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def storage(
    series: dict[str, tuple[pd.Series, float | None]],
    path: Path,
    tz: str,
    horizon_end: pd.Timestamp | None = None,
) -> Path:
    """What each array holds over time (TB), its capacity as a dashed line of the same colour."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    top = 0.0
    for name, (used, capacity) in series.items():
        (line,) = ax.plot(used.index.tz_convert(tz), used.to_numpy() / 1024**4, lw=1.2, label=str(name))
        top = max(top, float(used.max()) / 1024**4)
        if capacity:
            ax.axhline(capacity / 1024**4, color=line.get_color(), ls="--", lw=0.9)
            top = max(top, capacity / 1024**4)
    _mark_horizon(ax, horizon_end, tz)
    ax.set_ylim(0, top * 1.1 if top else 1.0)
    ax.set_ylabel("TB")
    return _timeline(fig, ax, path, tz, "What the arrays hold (dashed: their capacity)")


def backup(
    ts: pd.DataFrame,
    path: Path,
    tz: str,
    nights: list[tuple[pd.Timestamp, pd.Timestamp]],
    windows: list[tuple[pd.Timestamp, pd.Timestamp]],
    horizon_end: pd.Timestamp | None = None,
) -> Path:
    """The stores' disk arrays busy over time, the nightly backups shaded blue and the window they
    should keep to (20:00-08:00 in the seed) marked by dotted lines at its ends."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for comp, rows in ts.groupby("component", observed=True):
        if rows["disk_utilisation"].notna().any():
            ax.plot(rows["time"].dt.tz_convert(tz), rows["disk_utilisation"] * 100, lw=1, label=str(comp))
    _mark_incidents(ax, nights, tz, color="#1565c0")
    for start, end in windows:
        for t in (start, end):
            ax.axvline(t.tz_convert(tz), color="#1565c0", ls=":", lw=0.8)
    _mark_horizon(ax, horizon_end, tz)
    ax.set_ylim(0, 105)
    ax.set_ylabel("disk array busy %")
    title = "The stores' disk arrays; shaded: the nightly backup running, dotted: its window"
    return _timeline(fig, ax, path, tz, title)


def utilisation(
    ts: pd.DataFrame,
    path: Path,
    tz: str,
    horizon_end: pd.Timestamp | None = None,
    incidents: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] | None = None,
) -> Path:
    """One panel per component class: each instance thin, the class mean thick, in local time."""
    kinds = list(dict.fromkeys(ts["kind"].astype(str)))
    fig, axes = plt.subplots(len(kinds), 1, figsize=(10, 1.9 * len(kinds) + 0.8), sharex=True, squeeze=False)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        part = ts[ts["kind"].astype(str) == kind]
        times = part["time"].dt.tz_convert(tz)
        for comp, rows in part.groupby("component", observed=True):
            ax.plot(times[rows.index], rows["utilisation"] * 100, lw=0.6, alpha=0.5, label=str(comp))
        mean = part.groupby("time")["utilisation"].mean() * 100
        ax.plot(mean.index.tz_convert(tz), mean.values, color="black", lw=1.6, label="mean")
        # Scale to the peak so that a lightly loaded class still shows its shape; 100 % stays in view
        # once a class comes near saturation.
        peak = float(part["utilisation"].max() * 100) if len(part) else 0.0
        ax.set_ylim(0, 105 if peak > 60 else max(5.0, peak * 1.25))
        ax.set_ylabel(f"{kind}\nbusy %")
        ax.grid(alpha=0.3)
        _mark_horizon(ax, horizon_end, tz)
        _mark_incidents(ax, (incidents or {}).get(kind, []), tz)
        if part["component"].nunique() <= 8:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    axes[-1, 0].xaxis.set_major_formatter(mdates.DateFormatter("%a %H:%M", tz=tz))
    axes[0, 0].set_title("Utilisation per component class (share of servers busy, per sample interval)")
    fig.tight_layout()
    return _save(fig, path)


def headroom(components: dict[str, dict], path: Path) -> Path:
    """Per component class: mean and peak utilisation against capacity (100 %), with how many times the
    load could grow before the busiest instance of the class saturates at its peak."""
    by_class: dict[str, list[dict]] = {}
    for c in components.values():
        if c["utilisation"] is not None:
            by_class.setdefault(c["kind"], []).append(c)
    rows = []
    for kind, members in by_class.items():
        mean = sum(c["utilisation"] for c in members) / len(members)
        peak = max((c["utilisation_peak"] or 0.0) for c in members)
        rows.append((kind, mean, peak))
    rows.sort(key=lambda r: r[2])  # the tightest class on top
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.4))
    y = range(len(rows))
    ax.barh(y, [r[2] * 100 for r in rows], color="#90caf9", label="peak (busiest sample interval)")
    ax.barh(y, [r[1] * 100 for r in rows], color="#1565c0", height=0.45, label="mean over the run")
    ax.axvline(100, color="#c62828", lw=1.2)
    ax.text(100, -0.5, " capacity", color="#c62828", va="bottom", fontsize=8)
    for i, (_, _, peak) in enumerate(rows):
        label = f"x{1 / peak:,.1f} to saturation" if peak > 0 else "idle"
        ax.text(min(peak * 100, 100) + 1.5, i, label, va="center", fontsize=8)
    ax.set_yticks(list(y), [r[0] for r in rows])
    ax.set_xlim(0, 125)
    ax.set_xlabel("utilisation % of the class's busiest instance (peak) and of the class (mean)")
    ax.set_title("Headroom per component class: how far the load can grow before the peak saturates")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# The gauges drawn over time, one line per component: plot name -> (column, y label, title).
GAUGE_PLOTS = {
    "spool": ("spool_messages", "messages on spool", "Exim spool per frontend (accepted, not yet delivered)"),
    "replication": (
        "replication_backlog_messages",
        "messages not replicated",
        "Replication backlog (held by the serving store)",
    ),
    "sessions": ("sessions_open", "sessions open", "Users' IMAP, POP and webmail sessions open at the store"),
}


def gauge(name: str, ts: pd.DataFrame, path: Path, tz: str, horizon_end=None, incidents=None) -> Path:
    """One of ``GAUGE_PLOTS`` at each sample, one line per component, outages shaded."""
    column, ylabel, title = GAUGE_PLOTS[name]
    return _waiting(ts, path, tz, column, "component", ylabel, title, horizon_end, incidents)


def _waiting(
    ts: pd.DataFrame,
    path: Path,
    tz: str,
    column: str,
    by: str,
    ylabel: str,
    title: str,
    horizon_end: pd.Timestamp | None,
    incidents: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]] | None,
) -> Path:
    """A count sampled over time, one line per ``by`` group, outages shaded, the horizon marked."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    wide = ts.pivot_table(index="time", columns=by, values=column, aggfunc="sum", observed=True)
    for name in wide.columns:
        ax.plot(wide.index.tz_convert(tz), wide[name], lw=1, label=str(name))
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, max(1.0, float(wide.to_numpy().max()) * 1.1) if wide.size else 1.0)
    ax.yaxis.set_major_locator(mticker.MaxNLocator(integer=True))
    _mark_horizon(ax, horizon_end, tz)
    _mark_incidents(ax, list(dict.fromkeys(s for spans in (incidents or {}).values() for s in spans)), tz)
    return _timeline(fig, ax, path, tz, title)


def funnel(steps_by_class: dict[str, list[dict]], path: Path) -> Path:
    """The funnel: recipients left after each stage, one line of bars per direction or traffic class."""
    classes = list(steps_by_class)
    steps = [s["step"] for s in steps_by_class[classes[0]]]
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(steps) + 1.6))
    height = 0.8 / len(classes)
    colours = ["#37474f", "#2e7d32", "#c62828", "#1565c0", "#ef6c00"]
    for i, cls in enumerate(classes):
        left = [s["left"] for s in steps_by_class[cls]]
        offered = left[0] or 1
        y = [k + i * height for k in range(len(steps))]
        bars = ax.barh(y, left, height=height, color=colours[i % len(colours)], label=cls)
        for bar, v in zip(bars, left, strict=True):
            ax.text(bar.get_width(), bar.get_y() + height / 2, f" {v / offered:.1%}", va="center", fontsize=7)
    ax.set_yticks([k + height * (len(classes) - 1) / 2 for k in range(len(steps))], steps)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("recipients left after the stage (share of offered)")
    ax.set_title("Funnel: what each stage removes (docs/platform.md §3.1)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return _save(fig, path)


def latency_cdf(latency_by_class: dict[str, dict], path: Path, target: float | None = None) -> Path:
    """Share of deliveries done within x seconds (offered to in the mailbox), per traffic class; each
    class gives its deliveries' ``count`` and the ``seconds`` at evenly spaced quantiles."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for cls, cdf in latency_by_class.items():
        v = np.maximum(np.asarray(cdf["seconds"], dtype=float), 1e-3)
        ax.plot(v, np.linspace(0, 1, len(v)), drawstyle="steps-post", label=f"{cls} ({cdf['count']:,})")
    if target is not None:
        ax.axvline(target, color="#555", ls="--", lw=0.8)
        ax.text(target, 0.02, f" target {target:g} s", fontsize=8, color="#555")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    ax.set_xlabel("seconds from offered to delivered (log)")
    ax.set_ylabel("deliveries done")
    ax.set_title("Delivery latency CDF per traffic class")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    fig.tight_layout()
    return _save(fig, path)
