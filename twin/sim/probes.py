"""The periodic probe: samples every component that has a station or gauges, each
``outputs.sample_interval``, into preallocated arrays.

Station fields: counts (arrivals, completions) are per interval; ``busy`` and ``queue`` are the values at
the sample instant; ``utilisation`` is the time-average share of busy servers over the interval (exact,
from the station's busy-time integral, not from the instant samples). Gauges are what each component
class declares (``Component.GAUGES``: a frontend's spool, …), at the sample instant; a component without
a gauge shows 0 in its column. A component with a disk array (the store, the replica, the frontends' spool
disks) has its disk's ``disk_utilisation`` (over the interval, a background batch such as the nightly backup
included) and ``disk_queue`` (at the instant) too; NaN and 0 for the others.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STATION_FIELDS = ("arrivals", "completions", "busy", "queue", "busy_total")


class Probe:
    def __init__(self, env, components: list, gauges: tuple[str, ...], interval: float, end: float):
        self.env = env
        self.interval = interval
        self.end = end
        self.gauge_names = gauges
        self.components = [
            c for c in components if c.station is not None or c.GAUGES or getattr(c, "disk", None) is not None
        ]
        self._disks = [getattr(c, "disk", None) for c in self.components]
        # For each sampled component: the column index of each of its gauges.
        self._gauge_cols = [[gauges.index(g) for g in c.GAUGES] for c in self.components]
        rows = int(np.ceil(end / interval)) + 2
        k = len(self.components)
        self.t = np.zeros(rows)
        self.data = {f: np.zeros((rows, k)) for f in STATION_FIELDS}
        self.gauges = np.zeros((rows, k, len(gauges)))
        self.disk_busy = np.zeros((rows, k))  # busy-server seconds of the disk since time 0
        self.disk_queue = np.zeros((rows, k))
        self.n = 1  # row 0: the empty system at time 0

    def run(self):
        env, interval, end = self.env, self.interval, self.end
        while True:
            yield env.timeout(interval)
            if env.now >= end:
                return
            self.sample(env.now)

    def sample(self, now: float) -> None:
        i = self.n
        self.t[i] = now
        d = self.data
        for k, comp in enumerate(self.components):
            st = comp.station
            if st is not None:
                (
                    d["arrivals"][i, k],
                    d["completions"][i, k],
                    d["busy"][i, k],
                    d["queue"][i, k],
                    d["busy_total"][i, k],
                ) = st.snapshot(now)
            disk = self._disks[k]
            if disk is not None:
                _, _, _, self.disk_queue[i, k], self.disk_busy[i, k] = disk.snapshot(now)
            cols = self._gauge_cols[k]
            if cols:
                self.gauges[i, k, cols] = comp.gauges()
        self.n = i + 1

    def finish(self, end: float) -> None:
        if self.t[self.n - 1] < end:
            self.sample(end)

    def frame(self, start, timezone: str) -> pd.DataFrame:
        """Long format: one row per (sample time, component)."""
        n, k = self.n, len(self.components)
        columns = [
            "t",
            "time",
            "component",
            "kind",
            "servers",
            "arrivals",
            "completions",
            "busy",
            "queue",
            "utilisation",
            "disk_utilisation",
            "disk_queue",
            *self.gauge_names,
        ]
        if k == 0 or n < 2:
            return pd.DataFrame(columns=columns)
        t = self.t[:n]
        dt = np.diff(t)[:, None]
        d = {f: a[:n] for f, a in self.data.items()}
        servers = np.array([c.station.servers if c.station else 0 for c in self.components], dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            util = np.diff(d["busy_total"], axis=0) / (dt * servers)  # NaN where there is no CPU station
            spindles = np.array([dk.servers if dk else 0 for dk in self._disks], dtype=float)
            disk_util = np.diff(self.disk_busy[:n], axis=0) / (dt * spindles)  # NaN: no disk
        names = [c.name for c in self.components]
        kinds = [c.kind for c in self.components]
        tt = np.repeat(t[1:], k)
        out = {
            "t": tt,
            "time": (pd.Timestamp(start) + pd.to_timedelta(tt, unit="s")).tz_convert(timezone),
            "component": pd.Categorical(np.tile(names, n - 1), categories=names),
            "kind": pd.Categorical(np.tile(kinds, n - 1), categories=list(dict.fromkeys(kinds))),
            "servers": np.tile(servers, n - 1).astype(np.int32),
            "arrivals": np.diff(d["arrivals"], axis=0).ravel().astype(np.int64),
            "completions": np.diff(d["completions"], axis=0).ravel().astype(np.int64),
            "busy": d["busy"][1:].ravel().astype(np.int32),
            "queue": d["queue"][1:].ravel().astype(np.int32),
            "utilisation": util.ravel(),
            "disk_utilisation": disk_util.ravel(),
            "disk_queue": self.disk_queue[1:n].ravel().astype(np.int32),
        }
        for j, g in enumerate(self.gauge_names):
            out[g] = self.gauges[1:n, :, j].ravel().astype(np.int64)
        return pd.DataFrame(out)
