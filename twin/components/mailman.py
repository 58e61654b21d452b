"""The list server (docs/platform.md §2, §B; docs/lists.md): Mailman 2.1 behind the frontends.

Mail to and from it goes through the frontends. A post to a list's address is routed by the frontends'
stage 9 to this node (SMTP inside the computing centre, the session as ``Internal`` has it); Mailman then:
- expands the list: its member list comes from the directory (an LDAP query; while no directory server
  answers, the post waits in Mailman's queue and is tried again after ``expand_retry``);
- hands the copies to the frontends through the balancer in SMTP transactions of at most
  ``max_recipients`` (``SMTP_MAX_RCPTS``, 500) recipients, one ledger message each with the post as its
  parent, from the list's bounce address; the frontends scan them and deliver them like any mail;
- treats a transaction that fails with a 4xx or no connection as temporary for all its recipients and
  tries again hourly for 5 days (``DELIVERY_RETRY_WAIT``, ``DELIVERY_RETRY_PERIOD``; ``retry``), then
  drops them (``expired_at_sender``); a member refused at RCPT with a 5xx is a bounce at once
  (``SMTPDirect``: 5xx but 552);
- scores bounces per member as ``registerBounce`` does: one point a day at most, the score starts again
  when the last bounce is older than ``bounce_info_stale_after``, and a member whose score reaches
  ``bounce_score_threshold`` is disabled (gets no more copies). Bounces reach it from the frontends (a copy
  that bounced after acceptance: Exim's bounce names the failed addresses); Exim's delay warnings are
  recognised and discarded, as Mailman's bounce processing does.

Mailman's queues are on disk: a post waiting for its expansion and a copy waiting for its next try survive
an outage and go on after it; a ``loss`` takes them (the copies' recipients end ``lost`` here).
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from twin.components.internal import Internal
from twin.components.submission import Submission
from twin.scenario.schema import WEEKDAYS
from twin.sim.calendar import Calendar
from twin.sim.flow import LISTS, LOCAL, Mail, Notice, Post, journey
from twin.sim.headers import LIST
from twin.sim.ledger import NO_MAILBOX, STATE_CODE
from twin.sim.light import start
from twin.sim.senders import RemoteSenders

LOST = STATE_CODE["lost"]
DAY = 86400.0


class ListPopulation:
    """The lists and their members, drawn once from ``workload.lists.population``. Member ``m`` of list
    ``k`` is number ``first[k] + m``: its mailbox (``box``: an address of the population, drawn uniformly,
    so some are deactivated or unknown as the population has them; ``NO_MAILBOX`` for a remote member), its
    route (``route``: ``LOCAL`` or a remote domain) and whether its remote server knows it (``unknown``).
    Mailman's bounce information per member: ``score``, ``last`` (the local day of its last scored
    bounce, -1: none) and ``disabled``."""

    def __init__(self, streams, spec, mailboxes, domains):
        rng = streams.generator("workload.lists.population")
        sizes = np.maximum(1, np.ceil(spec.members.draw_fn(rng)(spec.count))).astype(np.int64)
        self.count = spec.count
        self.first = np.concatenate(([0], np.cumsum(sizes))).tolist()
        total = int(sizes.sum())
        u = rng.random((total, 2))
        local = u[:, 0] < spec.local
        box = np.full(total, NO_MAILBOX, dtype=np.int64)
        route = np.full(total, LOCAL, dtype=np.int64)
        nl = int(local.sum())
        route[~local] = domains.pick(rng, total - nl)
        if mailboxes.count:  # a list's local members are distinct addresses (while the population allows)
            for k in range(self.count):
                a, b = self.first[k], self.first[k + 1]
                here = np.flatnonzero(local[a:b]) + a
                m = len(here)
                box[here] = rng.choice(mailboxes.count, size=m, replace=m > mailboxes.count)
        self.box, self.route = box.tolist(), route.tolist()
        self.unknown = (~local & (u[:, 1] < spec.unknown_remote)).tolist()
        self.score = [0.0] * total
        self.last = [-1] * total
        self.disabled = [False] * total

    @property
    def members(self) -> int:
        return len(self.box)

    def register(self, m: int, day: int, threshold: float, stale_after: float) -> str:
        """Mailman 2.1's ``registerBounce`` for member ``m`` on local day ``day`` (a day number), weight 1:
        returns what it did: ``first``, ``residual`` (the member is disabled already), ``same day``
        (scored today already), ``stale`` (the last bounce is older than ``stale_after`` seconds: the
        score starts again) or ``scored``; and when the score reaches ``threshold``, the member is
        disabled."""
        last = self.last[m]
        if last < 0:
            self.score[m], what = 1.0, "first"
        elif self.disabled[m]:
            return "residual"
        elif last == day:
            what = "same day"
        elif (day - last) * DAY > stale_after:
            self.score[m], what = 1.0, "stale"
        else:
            self.score[m] += 1.0
            what = "scored"
        self.last[m] = day
        if self.score[m] >= threshold:
            self.disabled[m] = True
        return what

    def size(self, k: int) -> int:
        return self.first[k + 1] - self.first[k]


class ListServer(Internal):
    OUTAGE = (
        "posts wait on the frontends' spools; Mailman's queued posts and copies wait on its disk and go "
        "out after it is back"
    )
    GAUGES = ("list_posts_waiting", "list_copies_retrying")

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.ctx = ctx
        self.lists: ListPopulation | None = ctx.lists
        self.spec = lists = ctx.scenario.workload.lists
        self.network = ctx.scenario.platform.network
        self.calendar = Calendar(ctx.scenario.clock, dict.fromkeys(WEEKDAYS, 1.0))  # Mailman's local days
        ledger = ctx.ledger
        self._copy_class = ledger.classes.code("list_copy")
        self._origin = ledger.origins.code(name)
        self._down_stage = ledger.stages.code("list server down")
        self._lost_stage = ledger.stages.code("list queue lost")
        self.senders = RemoteSenders(ctx.streams, "lists", lists.retry) if lists is not None else None
        self.client: Submission | None = None
        self._sent: dict[int, list[int]] = {}  # copy message id -> its recipients' member numbers
        self._waiting: set[int] = set()  # posts (ids) waiting for their expansion
        self._retrying: dict[int, Mail] = {}  # copies waiting for Mailman's next try, by id
        self._gone: set[int] = set()  # copies a loss took (their next try ends their journey)
        self.counts = dict.fromkeys(
            (
                "posts_received",
                "posts_expanded",
                "expansions_deferred",
                "copies",
                "copy_recipients",
                "transactions_deferred",
                "refused_at_rcpt",
                "bounces_received",
                "bounces_scored",
                "bounces_residual",
                "members_disabled",
                "warnings_discarded",
                "posts_lost",
                "copies_lost",
            ),
            0,
        )

    def start(self) -> None:
        super().start()
        self.ldap = self.peer("ldap")
        frontends = self.peer("frontend")
        if frontends is not None and self.spec is not None:
            # Mailman's SMTP client: to the frontends' address over the LAN, at its own sending rate
            self.client = Submission(
                self.ctx, frontends.service, 2 * self.network.lan_latency, self.spec.transfer_rate
            )

    # -- what arrives ---------------------------------------------------------------------------------------

    def receive(self, msg, rows: list[int], client) -> Generator[float, None, tuple | None]:
        replies = yield from super().receive(msg, rows, client)
        if replies is None:
            return None
        kind = msg.__class__
        if kind is Post:
            self.counts["posts_received"] += 1
            if self.lists is not None:
                self._waiting.add(msg.id)
                start(self.env, self._expand(msg))
        elif kind is Notice and msg.about is not None:
            original, failed = msg.about
            self.counts["bounces_received"] += 1
            self._bounced(original, failed)
        else:  # a delay warning about a copy: Mailman's bounce processing discards it
            self.counts["warnings_discarded"] += 1
        return replies

    # -- expansion and the copies ---------------------------------------------------------------------------

    def _expand(self, post: Post) -> Generator[float, None, None]:
        """Look up the list's members in the directory, then send the copies."""
        env, retry = self.env, self.spec.expand_retry
        while True:
            if post.id not in self._waiting:
                return  # a loss took it
            node = self.ldap.connect() if self.ldap is not None else None
            if self.up and (self.ldap is None or node is not None):
                done = env.now
                if node is not None and node.station is not None:
                    done = node.station.assign(node.service_time())
                if self.station is not None:
                    done = self.station.assign_after(self.work(post.size), done)
                boot, ldap_boot = self.boot, node.boot if node is not None else 0
                if done > env.now:
                    yield done - env.now
                if post.id not in self._waiting:
                    return
                if self.boot == boot and (node is None or node.boot == ldap_boot):
                    break
            self.counts["expansions_deferred"] += 1
            yield retry
        self._waiting.discard(post.id)
        self.counts["posts_expanded"] += 1
        self._send_copies(post)

    def _send_copies(self, post: Post) -> None:
        lists, ledger, now = self.lists, self.ledger, self.env.now
        first = lists.first[post.list]
        enabled = [m for m in range(first, lists.first[post.list + 1]) if not lists.disabled[m]]
        size = post.size + int(self.spec.footer)
        step = self.spec.max_recipients
        for i in range(0, len(enabled), step):
            chunk = enabled[i : i + step]
            n = len(chunk)
            boxes = [lists.box[m] for m in chunk]
            mid, r0 = ledger.offer(
                n, now, self._copy_class, self._origin, size, parent=post.id, mailboxes=boxes
            )
            mail = Mail(
                mid, r0, n, size, boxes, False, False, post.spam, False, post.attachment, post.headers | LIST
            )
            mail.domains = [lists.route[m] for m in chunk]
            mail.sender = LISTS
            unknown = {r0 + j for j, m in enumerate(chunk) if lists.unknown[m]}
            if unknown:
                mail.unknown = unknown
            self._sent[mid] = chunk
            self.counts["copies"] += 1
            self.counts["copy_recipients"] += n
            start(self.env, self._copy(mail))

    def _copy(self, mail: Mail) -> Generator[float, None, None]:
        yield from journey(self.env, self.ledger, mail, self._transaction, self.senders)
        self._retrying.pop(mail.id, None)
        self._gone.discard(mail.id)

    def _transaction(self, mail: Mail, opened=None) -> Generator[float, None, int | None]:
        """One try of Mailman's SMTP client (``SMTPDirect``) for a copy."""
        if mail.id in self._gone:  # it waited in a queue that a loss took: written off then
            return None
        if not self.up:  # Mailman is not running: the copy waits for its next try
            return self._defer(mail, self._down_stage)
        if self.station is not None:  # the outgoing runner's work for the transaction
            done = self.station.assign(self.work(mail.size), self.env.now)
            boot = self.boot
            yield done - self.env.now
            if self.boot != boot:
                return self._defer(mail, self._down_stage)
        before = mail.live if mail.live is not None else mail.rows
        result = yield from self.client.transaction(mail)
        live = mail.live
        if live is not None and len(live) < len(before):  # 5xx at RCPT: bounces, registered at once
            kept = set(live)
            refused = [r for r in before if r not in kept]
            self.counts["refused_at_rcpt"] += len(refused)
            self._bounced(mail, refused)
        return result if result is None else self._defer(mail, result)

    def _defer(self, mail: Mail, stage: int) -> int:
        """The try failed at ``stage``: the copy waits in Mailman's retry queue (``_copy`` takes it out when
        its journey ends, delivered or given up)."""
        self._retrying[mail.id] = mail
        self.counts["transactions_deferred"] += 1
        return stage

    # -- bounces ---------------------------------------------------------------------------------------------

    def _bounced(self, copy, rows: list[int]) -> None:
        members = self._sent.get(copy.id)
        if members is None or not rows:
            return
        day = self.calendar.day(self.env.now)
        for r in rows:
            self._register(members[r - copy.r0], day)

    def _register(self, m: int, day: int) -> None:
        spec, lists = self.spec, self.lists
        was = lists.disabled[m]
        what = lists.register(m, day, spec.bounce_score_threshold, spec.bounce_info_stale_after)
        if what == "residual":
            self.counts["bounces_residual"] += 1
        elif what != "same day":
            self.counts["bounces_scored"] += 1
        if lists.disabled[m] and not was:
            self.counts["members_disabled"] += 1

    # -- down, loss and what it reports ----------------------------------------------------------------------

    def lose_data(self) -> int:
        """Mailman's queues are gone: the posts waiting for expansion (delivered here already: counted, no
        ledger row changes) and the copies waiting for a retry, whose recipients are ``lost`` here."""
        self.counts["posts_lost"] += len(self._waiting)
        self._waiting.clear()
        now, lost = self.env.now, 0
        for mail in self._retrying.values():
            live = mail.live if mail.live is not None else mail.rows
            self.ledger.finish_rows(live, now, LOST, self._lost_stage, self.code)
            self._gone.add(mail.id)
            lost += len(live)
        self.counts["copies_lost"] += len(self._retrying)
        self._retrying.clear()
        return lost

    def gauges(self) -> tuple[float, ...]:
        return len(self._waiting), len(self._retrying)

    def results(self) -> dict[str, dict]:
        out = super().results()
        if self.lists is None:
            return out
        lists = self.lists
        figures = {
            "lists": lists.count,
            "members": lists.members,
            "members_enabled": lists.members - sum(lists.disabled),
            **self.counts,
            "posts_waiting_at_end": len(self._waiting),
            "copies_retrying_at_end": len(self._retrying),
        }
        if self.client is not None:
            figures["smtp"] = self.client.service._figures(self.client)
        return {**out, "mailman": figures}
