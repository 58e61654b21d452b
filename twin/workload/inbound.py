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

from twin.components.smtp import open_session, smtp_transaction
from twin.scenario.schema import WEEKDAYS
from twin.sim.flow import Mail, journey
from twin.sim.light import start
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

    def run(self):
        model = self.model
        env, ledger = model.env, model.ledger
        group = model.groups["frontend"]
        origin = ledger.origins.code(self.name)
        codes = np.array([ledger.classes.code(f"inbound-{c.name}") for c in self.classes])
        senders = [c.senders for c in self.classes]
        peek = env.peek
        t = self.start
        while t < self.stop:
            span = min(HOUR - (t % HOUR), self.stop - t)  # up to the next full hour of simulated time
            day, hour = self.local_slot(t)
            batches = [
                c.hour(t, span, c.hourly[hour] * self.weekday[day], model.mailboxes) for c in self.classes
            ]
            t += span
            # The hour's messages in time order, offered to the ledger at once (numbered in that order).
            order = np.argsort(np.concatenate([b["t"] for b in batches]), kind="stable")
            col = {f: np.concatenate([b[f] for b in batches])[order] for f in MESSAGE_FIELDS}
            which = np.concatenate([np.full(len(b["t"]), k) for k, b in enumerate(batches)])[order]
            if not len(order):
                continue
            mid0, r0s = ledger.offer_many(
                col["count"], col["t"], codes[which], origin, col["size"], _boxes(batches, order)
            )
            n_msgs = len(order)
            self.offered_messages += n_msgs
            self.offered_recipients += int(col["count"].sum())
            nxt = peek()
            for i, (at, k, n, size, r0, blocked, bad, spam, virus, att) in enumerate(
                zip(
                    col["t"].tolist(),
                    which.tolist(),
                    col["count"].tolist(),
                    col["size"].tolist(),
                    r0s.tolist(),
                    col["blocklisted"].tolist(),
                    col["bad_sender"].tolist(),
                    col["spam"].tolist(),
                    col["virus"].tolist(),
                    col["attachment"].tolist(),
                    strict=True,
                )
            ):
                # Connect-time work is decided at the arrival without an event, as long as no other
                # event comes first; otherwise the clock moves to the arrival.
                if at > nxt:
                    yield env.timeout(at - env.now)
                    nxt = peek()
                opened = open_session(model, group, at, r0, n, None, blocked, bad)
                if opened is None:
                    continue  # refused for good at connect: nothing more happens to it
                if at > env.now:
                    yield env.timeout(at - env.now)
                mail = Mail(mid0 + i, r0, n, size, blocked, bad, spam, virus, att)
                start(journey(model, mail, group, senders[k], smtp_transaction, opened))
                nxt = peek()
            ledger.flush()  # the hour's refusals at connect, in one step


MESSAGE_FIELDS = ("t", "count", "size", "blocklisted", "bad_sender", "spam", "virus", "attachment")


def _boxes(batches: list[dict], order: np.ndarray) -> np.ndarray:
    """The recipients' mailboxes of all messages, message after message in ``order``."""
    boxes = np.concatenate([b["boxes"] for b in batches])
    counts = np.concatenate([b["count"] for b in batches])
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))  # each message's first box in ``boxes``
    counts, first = counts[order], first[order]
    within = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    return boxes[np.repeat(first, counts) + within]
