"""Inbound mail from the Internet (PLATFORM.md §4): Poisson arrivals per hour whose rate follows a
weekday factor and a diurnal curve per mail class (ham, spam), and the attributes the stages look at.

For each simulated hour and class, the number of messages is Poisson with mean
``volume x share x weekday[local day] x diurnal[local hour] / mean(diurnal) / 24``, their times uniform
within the hour (a Poisson process with that rate). Their attributes are drawn for the whole hour at
once, in numpy batches, each from its own stream: sender behaviour, blocklisted, bad sender, recipients
(count, mailboxes by popularity, made-up addresses), size, spam probability, virus, attachment.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from twin.components.smtp import smtp_transaction
from twin.scenario.schema import WEEKDAYS
from twin.sim.flow import Mail, journey
from twin.workload.mailboxes import GUESSED
from twin.workload.senders import RemoteSenders

HOUR = 3600.0


class MailClassDraws:
    """The random streams of one class, and one hour's draws from them."""

    def __init__(self, model, name: str, spec, mean_rate: float):
        streams = model.streams
        base = f"workload.inbound.{name}"
        self.name = name
        self.spec = spec
        diurnal = np.asarray(spec.diurnal, dtype=float)
        self.hourly = mean_rate * spec.share * diurnal / diurnal.mean()  # messages per second, by local hour
        self.arrivals = streams.generator(f"{base}.arrivals")
        self.flags = streams.generator(f"{base}.flags")
        self.recipients = streams.generator(f"{base}.recipients")
        self.mailboxes = streams.generator(f"{base}.mailboxes")
        self.size = streams.generator(f"{base}.size")
        self.spam = streams.generator(f"{base}.spam_score")
        self.senders = RemoteSenders(model, f"inbound.{name}", spec.sender)
        self._count = spec.recipients.draw_fn(self.recipients)
        self._size = spec.size.draw_fn(self.size)
        self._score = spec.spam_score.draw_fn(self.spam)
        att = spec.attachments
        self._attach_edges = np.cumsum(
            [1 - att.harmless - att.dangerous - att.spaces, att.harmless, att.dangerous]
        )

    def hour(self, t0: float, span: float, rate: float, boxes) -> dict[str, np.ndarray]:
        n = int(self.arrivals.poisson(rate * span))
        times = t0 + np.sort(self.arrivals.random(n)) * span
        spec = self.spec
        u = self.flags.random((n, 4))
        counts = np.maximum(1, np.ceil(self._count(n))).astype(np.int64)
        total = int(counts.sum())
        picked = boxes.pick(self.mailboxes, total)
        guessed = self.mailboxes.random(total) < spec.guessed
        picked[guessed] = GUESSED
        return {
            "t": times,
            "blocklisted": u[:, 0] < spec.blocklisted,
            "bad_sender": u[:, 1] < spec.bad_sender,
            "virus": u[:, 2] < spec.virus,
            "attachment": np.searchsorted(self._attach_edges, u[:, 3], side="right"),
            "count": counts,
            "boxes": picked,
            "size": np.maximum(0, self._size(n)).astype(np.int64),
            "spam": np.clip(np.rint(self._score(n)), 0, 100).astype(np.int64),
        }


class InboundSource:
    name = "inbound"

    def __init__(self, model, spec):
        self.model = model
        self.spec = spec
        self.classes = [MailClassDraws(model, name, c, spec.volume) for name, c in spec.classes.items()]
        self.weekday = np.array([spec.weekday[d] for d in WEEKDAYS])
        clock = model.scenario.clock
        self.start_local = clock.start
        self._start_utc = clock.start.astimezone(dt.UTC)
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, clock.horizon)
        self.offered_messages = 0
        self.offered_recipients = 0

    def local_slot(self, t: float) -> tuple[int, int]:
        """(weekday 0=Mon, hour) of simulated time ``t`` in the scenario's time zone."""
        when = (self._start_utc + dt.timedelta(seconds=t)).astimezone(self.start_local.tzinfo)
        return when.weekday(), when.hour

    def rate(self, t: float) -> float:
        """Expected messages per second over all classes at ``t``."""
        day, hour = self.local_slot(t)
        return float(sum(c.hourly[hour] for c in self.classes) * self.weekday[day])

    def run(self):
        model = self.model
        env, ledger = model.env, model.ledger
        group = model.groups["frontend"]
        origin = ledger.origins.code(self.name)
        codes = [ledger.classes.code(f"inbound-{c.name}") for c in self.classes]
        t = self.start
        while t < self.stop:
            span = min(HOUR - (t % HOUR), self.stop - t)  # up to the next full hour of simulated time
            day, hour = self.local_slot(t)
            batches = [
                c.hour(t, span, c.hourly[hour] * self.weekday[day], model.mailboxes) for c in self.classes
            ]
            times = np.concatenate([b["t"] for b in batches])
            which = np.concatenate([np.full(len(b["t"]), k) for k, b in enumerate(batches)])
            index = np.concatenate([np.arange(len(b["t"])) for b in batches])
            starts = [np.concatenate(([0], np.cumsum(b["count"]))) for b in batches]
            for i in np.argsort(times, kind="stable"):
                k, j = int(which[i]), int(index[i])
                b = batches[k]
                at = float(times[i])
                if at > env.now:
                    yield env.timeout(at - env.now)
                n = int(b["count"][j])
                size = int(b["size"][j])
                mid, r0 = ledger.offer(n, at, codes[k], origin, size)
                s0 = starts[k][j]
                ledger.cols["mailbox"][r0 : r0 + n] = b["boxes"][s0 : s0 + n]
                mail = Mail(
                    mid,
                    r0,
                    n,
                    size,
                    bool(b["blocklisted"][j]),
                    bool(b["bad_sender"][j]),
                    int(b["spam"][j]),
                    bool(b["virus"][j]),
                    int(b["attachment"][j]),
                )
                self.offered_messages += 1
                self.offered_recipients += n
                env.process(journey(model, mail, group, self.classes[k].senders, smtp_transaction))
            t += span
