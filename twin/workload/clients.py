"""The users' logins (docs/platform.md §B; docs/clients.md): Poisson within each hour at ``logins`` a day
per reading mailbox, shaped by a weekday factor and the diurnal curve. A share ``readers`` of the active
mailboxes have users who log in at all (drawn once, from a stream of its own); each login is to one of
them, uniformly, with a protocol drawn by its share, Kerberos or a password by the protocol's
``kerberos`` share, and a session length from the protocol's distribution. Each session runs in its own
light process (``components/access.py``). Sessions offer no mail: the source adds no ledger rows."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from twin.sim.calendar import Calendar
from twin.workload.sources import HourlySource


class ClientSource(HourlySource):
    name = "clients"

    def __init__(self, ctx, spec, access):
        self.env = ctx.env
        self.spec = spec
        self.access = access
        streams = ctx.streams
        active = ctx.mailboxes.active()
        self.readers = active[
            streams.generator("workload.clients.readers").random(len(active)) < spec.readers
        ]
        self.calendar = Calendar(ctx.scenario.clock, spec.weekday)
        diurnal = np.asarray(spec.diurnal, dtype=float)
        scale = ctx.scenario.workload.scale
        self.hourly = (spec.logins * scale * len(self.readers) * diurnal / diurnal.mean()).tolist()
        self._draws = streams.generator("workload.clients.logins")
        protocols = access.protocols
        self._cdf = np.cumsum([p.spec.share for p in protocols])
        self._kerberos = np.array([p.spec.kerberos for p in protocols])
        self._length = [
            streams.sampler(f"workload.clients.{p.name}.session", p.spec.session) for p in protocols
        ]
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else np.inf, ctx.scenario.clock.horizon)
        self.offered_messages = 0
        self.offered_recipients = 0

    def _offer_hour(self, t: float, span: float) -> Iterator[tuple[float, object]]:
        factor, hour = self.calendar.factor(t)
        rng = self._draws
        n = int(rng.poisson(self.hourly[hour] * factor * span))
        if not n or not len(self.readers):
            return
        times = (t + np.sort(rng.random(n)) * span).tolist()
        boxes = self.readers[rng.integers(len(self.readers), size=n)].tolist()
        u = rng.random((n, 2))
        which = np.minimum(np.searchsorted(self._cdf, u[:, 0], side="right"), len(self._cdf) - 1)
        kerberos = (u[:, 1] < self._kerberos[which]).tolist()
        protocols, lengths, session = self.access.protocols, self._length, self.access.session
        for i, k in enumerate(which.tolist()):
            yield times[i], session(protocols[k], boxes[i], kerberos[i], lengths[k]())
