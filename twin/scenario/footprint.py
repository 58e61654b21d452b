"""What a run will need before it starts: its expected peak memory and how many messages it offers, from
the workload's expected volume and the sampling, so that a run that cannot finish on this machine is
refused up front (``mailtwin validate`` and ``mailtwin run`` alike; ``--force`` runs it anyway) instead of
dying at the save after an hour.

The estimate is a sum of parts whose costs were measured on the baseline (docs/performance.md, "Memory
estimate"); it errs on the high side:

- the program, its libraries and the model: ``BASE``;
- the ledger's rows still in memory: those offered within ``RETIRE_AFTER + RETIRE_EVERY`` at the rate of
  the busiest local hour the run covers (the ledger spills older final rows to disk), at
  ``PER_RECIPIENT`` each, with what the messages in flight hold meanwhile (their processes, the hour's
  drawn arrivals);
- the time series: one sample per ``outputs.sample_interval`` of every node, at ``PER_SAMPLE`` each
  (the probe's arrays, the frame built from them and its plots);
- the mailbox population, at ``PER_MAILBOX`` each.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import resource
from dataclasses import dataclass

import numpy as np

from twin.scenario.schema import Scenario, instances

BASE = 180e6  # bytes: Python, numpy, pandas, SimPy, the model of the baseline (a 2-hour run: 224 MB)
PER_RECIPIENT = 460.0  # bytes per recipient in memory (fitted to 2-hour runs at 10 and 30 x the volume)
# bytes per node and sample: the 7- and 30-day baselines differed by 15.7 MB a day (360 B); since then two
# disk columns (12 B) and four gauges (32 B), each in the probe's arrays and the frame: counted, ~450 B
PER_SAMPLE = 450.0
# bytes: the population's arrays and the lists the hot path reads (150 B measured); the backup's two lists
# of what it holds per mailbox add ~70 B (a pointer and an int or a float each): counted
PER_MAILBOX = 220.0
WINDOW = 4200.0  # seconds of offered rows the ledger keeps in memory: model.RETIRE_AFTER + RETIRE_EVERY
MAX_MESSAGES = 2**31 - 1  # the ledger numbers messages in 32 bits


@dataclass(frozen=True)
class Footprint:
    messages: float  # expected over the run (originals; the platform's bounces and notices come on top)
    recipients_in_memory: float
    samples: float  # time-series samples of one node
    nodes: int
    mailboxes: int

    @property
    def parts(self) -> dict[str, float]:
        return {
            "program": BASE,
            "ledger": self.recipients_in_memory * PER_RECIPIENT,
            "time series": self.samples * self.nodes * PER_SAMPLE,
            "mailboxes": self.mailboxes * PER_MAILBOX,
        }

    @property
    def peak_bytes(self) -> float:
        return sum(self.parts.values())

    def problems(self, available: float) -> list[str]:
        """What stops the run on a machine with ``available`` bytes (empty: nothing)."""
        out = []
        if self.messages > MAX_MESSAGES:
            out.append(
                f"the run would offer about {self.messages:,.0f} messages, more than the ledger can number "
                f"({MAX_MESSAGES:,}): shorten clock.horizon or lower the volume"
            )
        if self.peak_bytes > available:
            parts = self.parts
            main = max(parts, key=parts.get)
            hint = {
                "ledger": "lower the volume or the number of recipients",
                "time series": "sample less often (outputs.sample_interval) or shorten clock.horizon",
                "mailboxes": "lower workload.mailboxes.count",
                "program": "free memory on this machine",
            }[main]
            out.append(
                f"expected peak memory {_mb(self.peak_bytes)}, more than the {_mb(available)} available "
                f"(mostly the {main}: {_mb(parts[main])}): {hint}; --force runs it anyway"
            )
        return out


def estimate(sc: Scenario) -> Footprint:
    """The run's expected messages and peak memory."""
    horizon = sc.clock.horizon
    mean_rate = 0.0  # messages per second over the run
    peak_recipients = 0.0  # recipients per second in the busiest hour
    inbound = sc.workload.inbound
    if inbound is not None and inbound.enabled:
        week = np.array(list(inbound.weekday.values()))
        hourly = np.zeros(24)
        for c in inbound.classes.values():
            diurnal = np.asarray(c.diurnal, dtype=float)
            share = inbound.volume * c.share
            mean_rate += share * week.mean()
            hourly += share * diurnal / diurnal.mean() * _recipients(c.recipients)
        # The busiest local hour the run covers (the profile repeats weekly).
        t0, zone = sc.clock.t0, sc.clock.zone
        hours = range(int(min(horizon, 7 * 86400) // 3600) + 1)
        local = [(t0 + dt.timedelta(hours=h)).astimezone(zone) for h in hours]
        peak_recipients += max(float(hourly[t.hour] * week[t.weekday()]) for t in local)
    sub = sc.workload.submission
    if sub is not None and sub.enabled:
        # the users' mail: per active mailbox; taken at every mailbox (an upper bound), at its peak hour
        boxes = sc.workload.mailboxes.count
        week = max(sub.weekday.values())
        for c in sub.classes.values():
            diurnal = np.asarray(c.diurnal, dtype=float)
            rate = c.volume if c.volume is not None else c.per_mailbox * boxes
            mean_rate += rate
            peak_recipients += rate * week * float(diurnal.max() / diurnal.mean()) * _recipients(c.recipients)
    for s in sc.workload.sources:
        if s.enabled:
            mean_rate += s.rate
            peak_recipients += s.rate * _recipients(s.recipients)
    scale = sc.workload.scale  # every arrival rate grows with it
    mean_rate *= scale
    peak_recipients *= scale
    in_memory = peak_recipients * min(WINDOW, horizon)  # sources offer until the horizon
    nodes = len(instances(sc.platform)) + len(sc.platform.stations)
    samples = (horizon + sc.clock.drain) / sc.outputs.sample_interval + 2
    return Footprint(mean_rate * horizon, in_memory, samples, nodes, sc.workload.mailboxes.count)


def _recipients(dist) -> float:
    """Expected recipients per message: draws are rounded up to a whole number >= 1."""
    if dist.dist == "zipf" or (dist.dist == "constant" and float(dist.value).is_integer()):
        return max(1.0, dist.mean)
    return max(1.0, dist.mean + 0.5)


def available_memory() -> float:
    """Bytes this process may still use: the memory the kernel reports available, or the address-space
    limit (``ulimit -v``, ``prlimit --as``) if that is lower."""
    avail = math.inf
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
                break
    if avail == math.inf:
        with contextlib.suppress(ValueError, OSError):
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        avail = min(avail, soft)
    return float(avail)


def _mb(nbytes: float) -> str:
    return f"{nbytes / 1e6:,.0f} MB" if nbytes < 1e15 else f"{nbytes / 1e6:.2g} MB"


def check_footprint(sc: Scenario, name: str, available: float | None = None) -> Footprint:
    """Raise ScenarioError (naming ``name``, the file) if the run cannot finish here; else its footprint."""
    from twin.scenario.loading import Problem, ScenarioError

    fp = estimate(sc)
    problems = fp.problems(available_memory() if available is None else available)
    if problems:
        raise ScenarioError([Problem(name, None, "", p) for p in problems])
    return fp
