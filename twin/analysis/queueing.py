"""Analytic queueing results the twin is validated against (Kleinrock, Queueing Systems Vol. 1, 1975;
Gross & Harris, Fundamentals of Queueing Theory). Rates are per second; times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StationFigures:
    arrival_rate: float
    utilisation: float  # per server
    mean_wait: float  # W_q
    mean_sojourn: float  # W
    mean_queue: float  # L_q
    mean_in_system: float  # L


def erlang_c(c: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load a = lambda/mu (< c)."""
    a = offered_load
    if a >= c:
        raise ValueError(f"unstable: offered load {a} >= {c} servers")
    # Stable recurrence for the Erlang B formula, then B -> C.
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1 - rho + rho * b)


def mmc(arrival_rate: float, service_rate: float, servers: int = 1) -> StationFigures:
    """M/M/c: W_q = C(c, a) / (c mu - lambda); M/M/1 is c = 1 (W_q = rho / (mu - lambda))."""
    lam, mu, c = arrival_rate, service_rate, servers
    a = lam / mu
    wq = erlang_c(c, a) / (c * mu - lam)
    w = wq + 1 / mu
    return StationFigures(lam, a / c, wq, w, lam * wq, lam * w)


def jackson(
    external: list[float], routing: list[list[float]], service_rates: list[float], servers: list[int]
) -> tuple[list[StationFigures], float]:
    """Open Jackson network: solve lambda = gamma + lambda P, treat each station as M/M/c_i.

    Returns the per-station figures and the mean time a customer spends in the network
    (sum of L_i over the total external arrival rate, by Little's law).
    """
    gamma = np.asarray(external, dtype=float)
    p = np.asarray(routing, dtype=float)
    lam = np.linalg.solve(np.eye(len(gamma)) - p.T, gamma)
    figures = [mmc(float(lam[i]), service_rates[i], servers[i]) for i in range(len(gamma))]
    total = sum(f.mean_in_system for f in figures) / gamma.sum()
    return figures, total
