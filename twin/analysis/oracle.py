"""The analytic oracle of every run: for each station (a component's CPU), what queueing theory predicts
from the run's own measured throughput and service demand, beside what the run measured.

- **Utilisation law** (operational, Denning & Buzen 1978): U = X x S / c + the background's share, with
  the throughput X = L / W (Little's law over the statistics window) and the mean service demand
  S = W - Wq. It holds for any arrival process; a disagreement is a modelling or accounting error
  (work done but not counted, or counted twice), or servers that were down or slowed for part of the
  window (an outage, a degraded node), which the law's c does not know about.
- **Waiting**: the M/M/c mean wait (Erlang C) at the measured X, S and c, and the Allen-Cunneen G/G/c
  approximation, M/M/c x (Ca² + Cs²)/2, with the squared coefficients of variation of the gaps between
  arrivals (Ca², 1 for a Poisson stream) and of the service times (Cs², 1 for exponential ones) the
  station measured. M/M/c is exact when both are near 1; then a measured wait outside the tolerance is
  a modelling error. When they are not, the difference is a non-Poisson effect (bursty or smooth input,
  constant or heavy-tailed service), which the G/G/c figure should mostly explain.

A station is compared only where it has at least ``MIN_CUSTOMERS`` customers, and a wait only where
either figure exceeds ``MIN_WAIT_S`` (below it both are noise next to a millisecond of service).
"""

from __future__ import annotations

import math

from twin.analysis.queueing import mmc

MIN_CUSTOMERS = 200
MIN_WAIT_S = 0.001
NEAR_ONE = 0.25  # |SCV - 1| within this counts as Poisson input / exponential service
UTILISATION_TOLERANCE = 0.02  # absolute: the law is an identity up to the window's edges
# Relative, for the mean wait: a run's mean wait has a sampling error of 10-20 % at a few thousand
# customers and rho ~ 0.5 (the waits are strongly correlated); 25 % leaves room for that and still
# catches a wrong model (M/D/1 waits half of M/M/1's).
WAIT_TOLERANCE = 0.25


def oracle(components: dict) -> dict[str, dict]:
    """Per station with enough customers: the predictions, the measurements, and a verdict."""
    out = {}
    for name, c in components.items():
        figures = _station(c)
        if figures is not None:
            out[name] = figures
    return out


def _number(v) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _station(c: dict) -> dict | None:
    customers = c.get("customers") or 0
    w, wq, L = _number(c.get("mean_sojourn")), _number(c.get("mean_wait")), _number(c.get("mean_in_system"))
    u, servers = _number(c.get("utilisation")), c.get("servers")
    if customers < MIN_CUSTOMERS or None in (w, wq, L, u) or not servers or w <= 0:
        return None
    x = L / w  # Little's law: the throughput over the window
    s = w - wq
    background = _number(c.get("background_utilisation")) or 0.0
    predicted_u = x * s / servers + background
    ca2, cs2 = _number(c.get("arrival_scv")), _number(c.get("service_scv"))
    row = {
        "throughput_per_s": x,
        "service_s": s,
        "servers": servers,
        "utilisation_predicted": predicted_u,
        "utilisation_simulated": u,
        "arrival_scv": ca2,
        "service_scv": cs2,
        "wait_simulated_s": wq,
        "wait_mmc_s": None,
        "wait_ggc_s": None,
        "poisson": ca2 is not None and abs(ca2 - 1) <= NEAR_ONE,
        "exponential": cs2 is not None and abs(cs2 - 1) <= NEAR_ONE,
        "warnings": [],
    }
    if abs(predicted_u - u) > UTILISATION_TOLERANCE:
        row["warnings"].append(
            f"utilisation law: X x S / c = {predicted_u:.1%} against {u:.1%} measured (work not counted, or "
            "servers down or slowed in the window: a modelling or accounting error if neither)"
        )
    rho = x * s / servers
    if s > 0 and rho < 1:
        mm = mmc(x, 1 / s, int(servers)).mean_wait
        row["wait_mmc_s"] = mm
        if ca2 is not None and cs2 is not None:
            row["wait_ggc_s"] = mm * (ca2 + cs2) / 2
        if max(mm, wq) > MIN_WAIT_S and abs(wq - mm) > WAIT_TOLERANCE * max(mm, MIN_WAIT_S):
            if row["poisson"] and row["exponential"]:
                why = "a modelling error: the input is Poisson and the service exponential, so M/M/c is exact"
            else:
                gg = (
                    ""
                    if row["wait_ggc_s"] is None
                    else f"; G/G/c (Allen-Cunneen) gives {row['wait_ggc_s']:.4g} s"
                )
                why = f"a non-Poisson effect: Ca² = {_shown(ca2)}, Cs² = {_shown(cs2)}{gg}"
            row["warnings"].append(f"mean wait {wq:.4g} s against M/M/c's {mm:.4g} s: {why}")
    elif rho >= 1:
        row["warnings"].append(f"offered load {rho:.2f} per server: no steady state, M/M/c does not apply")
    return row


def _shown(v: float | None) -> str:
    return "?" if v is None else f"{v:.2f}"
