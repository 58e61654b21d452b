"""Posts to Mailman's lists (docs/platform.md §B: about 300 lists, 300 posts a day; docs/lists.md): Poisson
arrivals per hour at ``posts`` a day, shaped by a weekday factor and the posts' diurnal curve.

Each post goes to a list drawn uniformly and comes from one of its members, drawn uniformly: a member with
a mailbox here submits it like any user (``components/submission.py``: Kerberos with probability
``kerberos``, else a password; the client's retry schedule is ``workload.submission.client``, or its
default), a member outside sends it from the Internet (``components/smtp.py``, a legitimate sender that
retries on Postfix's schedule). Its one recipient is the list's address, which the frontends route to the
list server. Size, spam score, virus, attachment and header fields come from ``post``.
"""

from __future__ import annotations

import math

from twin.scenario.schema import Sender
from twin.scenario.schema import Submission as SubmissionSpec
from twin.sim.calendar import Calendar
from twin.sim.flow import LISTS, MessagePath, Post, journey
from twin.sim.ledger import NO_MAILBOX
from twin.sim.senders import RemoteSenders
from twin.workload.draws import ClassDraws
from twin.workload.sources import HourlySource

BASE = "workload.lists.posts"


class ListPostSource(HourlySource):
    """Offers the hour's posts, each in its sender's process (``journey``): local members through the
    frontends' submission service, members outside through their SMTP service."""

    name = "lists"

    def __init__(self, ctx, spec, service):
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.lists = ctx.lists
        self.service = service
        self.spec = spec
        self.draws = ClassDraws(
            ctx.streams, BASE, "list_post", spec.post, spec.posts * ctx.scenario.workload.scale
        )
        self.which = ctx.streams.generator(f"{BASE}.lists")
        self.calendar = Calendar(ctx.scenario.clock, spec.weekday)
        sub = ctx.scenario.workload.submission
        client = sub.client if sub is not None else SubmissionSpec.model_fields["client"].default_factory()
        self.clients = RemoteSenders(ctx.streams, "lists.local_posters", client)
        self.outside = RemoteSenders(ctx.streams, "lists.remote_posters", Sender())
        self.start = spec.start
        self.stop = min(spec.stop if spec.stop is not None else math.inf, ctx.scenario.clock.horizon)
        self.offered_messages = 0
        self.offered_recipients = 0
        self._class = ctx.ledger.classes.code("list_post")
        self._origin = ctx.ledger.origins.code(self.name)

    def _offer_hour(self, t0: float, span: float) -> list[tuple[float, MessagePath]]:
        factor, hour = self.calendar.factor(t0)
        d, lists, spec = self.draws, self.lists, self.spec
        n = int(d.arrivals.poisson(d.hourly[hour] * factor * span))
        if not n:
            return []
        times = sorted((t0 + d.arrivals.random(n) * span).tolist())
        u = d.flags.random((n, 3))
        which = self.which.integers(lists.count, size=n).tolist()
        poster = self.which.random(n).tolist()
        content = {f: v.tolist() for f, v in d.contents(n, u[:, 2]).items()}
        virus = (u[:, 0] < spec.post.virus).tolist()
        kerberos = (u[:, 1] < spec.kerberos).tolist()
        ledger, env = self.ledger, self.env
        paths = []
        for i in range(n):
            k = which[i]
            member = lists.first[k] + int(poster[i] * lists.size(k))
            box = lists.box[member] if lists.route[member] < 0 else NO_MAILBOX
            local = lists.route[member] < 0 and box != NO_MAILBOX
            at = times[i]
            mid, r0 = ledger.offer(
                1, at, self._class, self._origin, content["size"][i], mailboxes=[NO_MAILBOX]
            )
            post = Post(
                mid,
                r0,
                1,
                content["size"][i],
                [NO_MAILBOX],
                False,
                False,
                content["spam"][i],
                virus[i],
                content["attachment"][i],
                content["headers"][i],
            )
            post.list = k
            post.domains = [LISTS]
            self.offered_messages += 1
            self.offered_recipients += 1
            if local:  # a member here: the user's client submits it
                post.sender = box
                post.kerberos = kerberos[i]
                path = journey(
                    env, ledger, post, self.service.submission.transaction, self.clients, received=at
                )
            else:  # a member outside: from the Internet
                path = journey(env, ledger, post, self.service.transaction, self.outside, received=at)
            paths.append((at, path))
        return paths
