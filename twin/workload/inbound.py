"""Inbound mail from the Internet (docs/platform.md §B): Poisson arrivals per hour whose rate follows a
weekday factor and a diurnal curve per mail class (ham, spam), and the attributes the stages look at.

For each simulated hour and class, the number of messages is Poisson with mean
``volume x share x weekday[local day] x diurnal[local hour] / mean(diurnal) / 24``, their times uniform
within the hour (a Poisson process with that rate). Their attributes are drawn for the whole hour at
once, in numpy batches, each from its own stream: sender behaviour, blocklisted, bad sender, recipients
(count, mailboxes by popularity, made-up addresses), size, spam probability, virus, attachment.
"""

from __future__ import annotations

import math

import numpy as np

from twin.sim.calendar import Calendar
from twin.sim.flow import LOCAL, SUBDOMAIN, Mail, journey
from twin.sim.ledger import NO_MAILBOX
from twin.sim.light import start, start_at
from twin.sim.senders import RemoteSenders
from twin.workload.draws import ClassDraws, any_per_message, in_order

HOUR = 3600.0


class MailClassDraws(ClassDraws):
    """The random streams of one inbound class, and one hour's draws from them."""

    def __init__(self, streams, name: str, spec, mean_rate: float):
        super().__init__(streams, f"workload.inbound.{name}", name, spec, mean_rate * spec.share)
        self.mailboxes = streams.generator(f"workload.inbound.{name}.mailboxes")
        self.subdomains = streams.generator(f"workload.inbound.{name}.subdomain")
        self.senders = RemoteSenders(streams, f"inbound.{name}", spec.sender)

    def hour(self, t0: float, span: float, rate: float, boxes) -> dict[str, np.ndarray]:
        n = int(self.arrivals.poisson(rate * span))
        times = t0 + np.sort(self.arrivals.random(n)) * span
        spec = self.spec
        u = self.flags.random((n, 4))
        counts = self.counts(n)
        total = int(counts.sum())
        picked = boxes.pick(self.mailboxes, total)
        guessed = self.mailboxes.random(total) < spec.guessed
        picked[guessed] = NO_MAILBOX  # a made-up address: not in the population
        routes = np.full(total, LOCAL, dtype=np.int64)
        if spec.subdomain > 0:  # a recipient at a subdomain with its own server (seed §4)
            sub = self.subdomains.random(total) < spec.subdomain
            routes[sub], picked[sub] = SUBDOMAIN, NO_MAILBOX
        return {
            "routes": routes,
            "t": times,
            "blocklisted": u[:, 0] < spec.blocklisted,
            "bad_sender": u[:, 1] < spec.bad_sender,
            "virus": u[:, 2] < spec.virus,
            "count": counts,
            "boxes": picked,
            **self.contents(n, u[:, 3]),
        }


class InboundSource:
    """The inbound arrivals, one hour at a time, merged with SimPy's events by the run loop
    (``Model.advance``): an arrival is not an event. ``next_at`` is the time of the next arrival (inf
    when there are no more); ``admit`` takes arrivals in time order for as long as none comes after
    SimPy's next event, so the order is exactly that of an arrival process yielding a timeout per
    message, without those timeouts.

    Each arrival is handed to ``entry`` (the frontends' SMTP service, ``components/smtp.py``): its
    ``open_session`` decides the connect-time stages, its ``transaction`` is the sender's try."""

    name = "inbound"

    def __init__(self, ctx, spec, entry):
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.mailboxes = ctx.mailboxes
        self.entry = entry
        self.spec = spec
        self.classes = [
            MailClassDraws(ctx.streams, name, c, spec.volume * ctx.scenario.workload.scale)
            for name, c in spec.classes.items()
        ]
        self.calendar = Calendar(ctx.scenario.clock, spec.weekday)
        clock = ctx.scenario.clock
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, clock.horizon)
        self.offered_messages = 0
        self.offered_recipients = 0
        ledger = ctx.ledger
        self._origin = ledger.origins.code(self.name)
        self._codes = np.array([ledger.classes.code(f"inbound-{c.name}") for c in self.classes])
        self._senders = [c.senders for c in self.classes]
        self._t = self.start  # the start of the next hour to draw
        # The drawn hour's messages: one list per field (MESSAGE_FIELDS, then "mid", "class", "r0"), and
        # the index of the next one to admit.
        self._hour: dict[str, list] = {}
        self._i = 0
        self._n = 0
        self._row0 = 0  # the ledger row of the drawn hour's first recipient
        self.next_at = math.inf
        self._begun = False

    def begin(self) -> None:
        """Draw the first hour (when the run starts)."""
        if not self._begun:
            self._begun = True
            self._next_hour()

    def _next_hour(self) -> None:
        """Draw hours until one has arrivals (or the source stops), offer its messages to the ledger in
        one step (numbered in time order) and set ``next_at``."""
        ledger = self.ledger
        ledger.flush()  # the last hour's refusals at connect, in one step
        while self._t < self.stop:
            t = self._t
            span = min(HOUR - (t % HOUR), self.stop - t)  # up to the next full hour of simulated time
            factor, hour = self.calendar.factor(t)
            batches = [c.hour(t, span, c.hourly[hour] * factor, self.mailboxes) for c in self.classes]
            self._t = t + span
            order = np.argsort(np.concatenate([b["t"] for b in batches]), kind="stable")
            if not len(order):
                continue
            col = {f: np.concatenate([b[f] for b in batches])[order] for f in MESSAGE_FIELDS}
            which = np.concatenate([np.full(len(b["t"]), k) for k, b in enumerate(batches)])[order]
            counts = [b["count"] for b in batches]
            boxes = in_order([b["boxes"] for b in batches], counts, order)
            routes = in_order([b["routes"] for b in batches], counts, order)
            mid0, r0s = ledger.offer_many(
                col["count"], col["t"], self._codes[which], self._origin, col["size"], boxes
            )
            n_msgs = len(order)
            self.offered_messages += n_msgs
            self.offered_recipients += int(col["count"].sum())
            hour = {f: col[f].tolist() for f in MESSAGE_FIELDS}
            hour["mid"] = list(range(mid0, mid0 + n_msgs))
            hour["class"] = which.tolist()
            hour["r0"] = r0s.tolist()
            # every recipient's mailbox, in row order from the hour's first row
            hour["boxes"] = boxes.tolist()
            # every recipient's route, and whether a message has one that is not local (None: none has)
            away = routes != LOCAL
            if away.any():
                hour["routes"] = routes.tolist()
                hour["away"] = any_per_message(away, col["count"])
            else:
                hour["routes"] = hour["away"] = None
            self._row0 = int(r0s[0])
            self._hour, self._i, self._n = hour, 0, n_msgs
            self.next_at = hour["t"][0]
            return
        self._hour, self._i, self._n = {}, 0, 0
        self.next_at = math.inf

    def admit(self, end: float) -> None:
        """Take the arrivals due before SimPy's next event (and before ``end``), in time order.

        Connect-time work is decided at the arrival (``open_session``) without an event; a message that
        goes on gets its sender's process, which starts at once and waits for its own times."""
        env, ledger, entry = self.env, self.ledger, self.entry
        open_session, transaction = entry.open_session, entry.transaction
        senders = self._senders
        peek = env.peek
        nxt = peek()
        while True:
            h, i, last = self._hour, self._i, self._n
            times, r0s, counts = h["t"], h["r0"], h["count"]
            blocklisted, bad_sender = h["blocklisted"], h["bad_sender"]
            away = h.get("away")  # messages with a recipient at a subdomain (None: no message has one)
            while i < last:
                at = times[i]
                if at > nxt or at >= end:
                    self._i = i
                    self.next_at = at
                    return
                r0, n, blocked, bad = r0s[i], counts[i], blocklisted[i], bad_sender[i]
                opened = open_session(at, r0, n, None, blocked, bad)
                if opened is not None:
                    k = r0 - self._row0
                    mail = Mail(
                        h["mid"][i],
                        r0,
                        n,
                        h["size"][i],
                        h["boxes"][k : k + n],
                        blocked,
                        bad,
                        h["spam"][i],
                        h["virus"][i],
                        h["attachment"][i],
                        h["headers"][i],
                    )
                    if away is not None and away[i]:
                        mail.domains = h["routes"][k : k + n]
                    sender = journey(env, ledger, mail, transaction, senders[h["class"][i]], opened, at)
                    if opened.__class__ is int:  # a temporary error at connect: the sender decides at ``at``
                        start_at(env, sender, at - env.now)
                    else:  # the session goes on; it waits for its own times
                        start(env, sender)
                    nxt = peek()
                i += 1
            self._next_hour()
            if not self._n:
                return


MESSAGE_FIELDS = ("t", "count", "size", "blocklisted", "bad_sender", "spam", "virus", "attachment", "headers")
