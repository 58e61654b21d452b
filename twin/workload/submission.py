"""Mail the university's users send (docs/platform.md §2, §B): per class (internal, outbound) Poisson
arrivals per hour at ``per_mailbox`` messages a day per active mailbox, shaped by a weekday factor and the
class's diurnal curve, submitted through the frontends (``components/submission.py``).

Each message has a sender (an active mailbox, uniformly; for a ``relay`` class, a downstream university
system), a number of recipients, and for each recipient a destination: local with probability ``local`` (a
mailbox drawn by the population's popularity; a share ``unknown_local`` mistyped, refused at RCPT), else a
remote domain drawn by the domains' popularity (a share ``unknown_remote`` unknown to that domain's server:
550, bounced to the sender); a share ``subdomain`` of all recipients is at a subdomain with its own
server instead. Size, spam score, virus and attachment are drawn as for inbound mail; a user's client logs
in with Kerberos with probability ``kerberos``, else with a password; the relay's systems do not log in.
A try that gets a 4xx is sent again on the client's schedule (``client``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from twin.sim.calendar import Calendar
from twin.sim.flow import LOCAL, OUTSIDE, SUBDOMAIN, SYSTEM, Mail, MessagePath, journey
from twin.sim.ledger import NO_MAILBOX
from twin.sim.senders import RemoteSenders
from twin.workload.draws import ClassDraws, any_per_message, in_order
from twin.workload.sources import HourlySource


class SubmissionClassDraws(ClassDraws):
    """The random streams of one submission class, and one hour's draws from them."""

    def __init__(self, streams, name: str, spec, senders: int, scale: float):
        base = f"workload.submission.{name}"
        rate = spec.volume if spec.volume is not None else spec.per_mailbox * senders
        super().__init__(streams, base, name, spec, rate * scale)
        self.where = streams.generator(f"{base}.destinations")
        self.subdomains = streams.generator(f"{base}.subdomain")

    def hour(self, t0: float, span: float, rate: float, kerberos: float, active, boxes, domains) -> dict:
        n = int(self.arrivals.poisson(rate * span))
        spec = self.spec
        u = self.flags.random((n, 4))
        counts = self.counts(n)
        total = int(counts.sum())
        v = self.where.random((total, 2))
        local = v[:, 0] < spec.local
        rcpt_boxes = np.full(total, NO_MAILBOX, dtype=np.int64)
        rcpt_domains = np.full(total, LOCAL, dtype=np.int64)
        nl = int(local.sum())
        rcpt_boxes[local] = boxes.pick(self.where, nl)
        rcpt_boxes[local & (v[:, 1] < spec.unknown_local)] = NO_MAILBOX  # a mistyped local address
        rcpt_domains[~local] = domains.pick(self.where, total - nl)
        if spec.subdomain > 0:  # a recipient at a subdomain with its own server
            sub = self.subdomains.random(total) < spec.subdomain
            rcpt_domains[sub], rcpt_boxes[sub] = SUBDOMAIN, NO_MAILBOX
        if spec.relay:  # a downstream system: no login; its bounces go back to it
            sender, login = np.full(n, SYSTEM), np.full(n, -1)
        else:
            sender = active[self.flags.integers(len(active), size=n)] if len(active) else np.full(n, OUTSIDE)
            login = (u[:, 0] < kerberos).astype(np.int64)
        return {
            "t": t0 + np.sort(self.arrivals.random(n)) * span,
            "sender": sender,
            "login": login,
            "virus": u[:, 1] < spec.virus,
            "count": counts,
            "boxes": rcpt_boxes,
            "domains": rcpt_domains,
            "unknown": (rcpt_domains >= 0) & (v[:, 1] < spec.unknown_remote),
            **self.contents(n, u[:, 2]),
        }


class SubmissionSource(HourlySource):
    """Offers the users' messages hour by hour, each in its client's process (``journey``), to ``entry``
    (the frontends' submission service, ``transaction``)."""

    name = "submission"

    def __init__(self, ctx, spec, entry):
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.mailboxes = ctx.mailboxes
        self.domains = ctx.domains
        self.entry = entry
        self.spec = spec
        boxes = ctx.mailboxes
        self.active = boxes.active()
        self.classes = [
            SubmissionClassDraws(ctx.streams, name, c, len(self.active), ctx.scenario.workload.scale)
            for name, c in spec.classes.items()
        ]
        self.calendar = Calendar(ctx.scenario.clock, spec.weekday)
        self.client = RemoteSenders(ctx.streams, "submission", spec.client)
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, ctx.scenario.clock.horizon)
        self.offered_messages = 0
        self.offered_recipients = 0
        ledger = ctx.ledger
        self._origin = ledger.origins.code(self.name)
        self._codes = np.array([ledger.classes.code(c.name) for c in self.classes])

    def _offer_hour(self, t: float, span: float) -> Iterator[tuple[float, MessagePath]]:
        factor, hour = self.calendar.factor(t)
        spec = self.spec
        batches = [
            c.hour(t, span, c.hourly[hour] * factor, spec.kerberos, self.active, self.mailboxes, self.domains)
            for c in self.classes
        ]
        n = sum(len(b["t"]) for b in batches)
        if not n:
            return
        col = {f: np.concatenate([b[f] for b in batches]) for f in batches[0] if f not in PER_RECIPIENT}
        which = np.concatenate([np.full(len(b["t"]), k) for k, b in enumerate(batches)])
        order = np.argsort(col["t"], kind="stable")
        col = {f: v[order] for f, v in col.items()}
        per_rcpt = {
            f: in_order([b[f] for b in batches], [b["count"] for b in batches], order) for f in PER_RECIPIENT
        }
        ledger = self.ledger
        mid0, r0s = ledger.offer_many(
            col["count"], col["t"], self._codes[which[order]], self._origin, col["size"], per_rcpt["boxes"]
        )
        self.offered_messages += n
        self.offered_recipients += int(col["count"].sum())
        env, entry, client = self.env, self.entry, self.client
        lists = {f: v.tolist() for f, v in col.items()}
        boxes, domains = per_rcpt["boxes"].tolist(), per_rcpt["domains"].tolist()
        # the recipients their remote server does not know, and which messages have any
        unknown, has_unknown = (
            per_rcpt["unknown"].tolist(),
            any_per_message(per_rcpt["unknown"], col["count"]),
        )
        row0 = int(r0s[0])
        for i, r0 in enumerate(r0s.tolist()):
            k, m = r0 - row0, lists["count"][i]
            mail = Mail(
                mid0 + i,
                r0,
                m,
                lists["size"][i],
                boxes[k : k + m],
                False,
                False,
                lists["spam"][i],
                lists["virus"][i],
                lists["attachment"][i],
                lists["headers"][i],
            )
            mail.domains = domains[k : k + m]
            mail.sender = lists["sender"][i]
            login = lists["login"][i]
            mail.kerberos = None if login < 0 else login == 1
            if has_unknown[i]:
                mail.unknown = {r0 + j for j in range(m) if unknown[k + j]}
            yield lists["t"][i], journey(env, ledger, mail, entry.transaction, client, counted=True)


PER_RECIPIENT = ("boxes", "domains", "unknown")
