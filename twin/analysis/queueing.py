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


def gated_vacations_wait(
    arrival_rate: float, mean_service: float, second_moment: float, vacation: float
) -> float:
    """Mean wait W_q of the M/G/1 queue with multiple vacations of fixed length ``vacation`` and gated
    service (Takagi, Queueing Analysis Vol. 1, 1991, §2.3): at the end of each vacation the server serves
    the customers present then, and takes the next vacation after them:
    W_q = lambda E[S^2] / (2 (1 - rho)) + V / 2 + rho V / (1 - rho).
    This is a station with one server whose background batch has one stream of requests of length V
    (``Station.start_batch``): a request issued when the previous one ends queues behind the customers
    that came during it."""
    rho = arrival_rate * mean_service
    if rho >= 1:
        raise ValueError(f"unstable: utilisation {rho} >= 1")
    return arrival_rate * second_moment / (2 * (1 - rho)) + vacation / 2 + rho * vacation / (1 - rho)
