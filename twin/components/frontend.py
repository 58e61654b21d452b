"""An SMTP frontend running Exim: its CPU (a Server), its SMTP listener (``smtp.py``), and its spool of
accepted mail that it could not deliver at once.

What Exim does with such mail (Exim specification, "Retry configuration"; deliver.c, retry.c):
- every accepted message gets an immediate delivery run; what is not delivered waits on the spool;
- a queue runner starts every ``queue_interval`` (``-q30m``), at most ``queue_run_max`` at once, and goes
  through the spool in random order, one message at a time;
- a message's recipients are routed each on its own: the message is one part per destination (the store
  by LMTP, each remote domain by SMTP), each with its own delivery runs (docs/outbound.md);
- a delivery run tries a destination only when its retry time has come (one hints record per destination,
  shared by all messages, kept in this frontend's own database);
- when the retry rules give up, the recipients bounce: a new message with the null sender ``<>`` and the
  original as parent goes to the sender (by LMTP to a local sender, else to the sender's remote domain); a
  bounce or warning that cannot be delivered is not bounced again but frozen on the spool;
- after a run that attempted a delivery and left the message deferred, a delay warning goes to the
  sender when one is due; a run that skips the message (retry time not reached) sends none, and a
  bounce comes without one (deliver.c: ``delivery_attempted``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from twin.components.mailboxes import DEACTIVATED
from twin.components.server import Server
from twin.components.smtp import SmtpListener, SmtpService
from twin.exim.queue import QueuedMessage, Step, connected, delivery_run, parse_delay_warning
from twin.exim.retry import Check, RetryDatabase, exim_time, parse_retry_line
from twin.sim.flow import LISTS, LOCAL, SUBDOMAIN, SYSTEM, Message, Notice, deliver
from twin.sim.ledger import STATE_CODE
from twin.sim.light import start

if TYPE_CHECKING:
    from twin.components.remote import Internet

BOUNCED = STATE_CODE["bounced"]
LOST = STATE_CODE["lost"]


class Spooled(QueuedMessage):
    """A message on a frontend's spool (with what the retry rules keep per message, ``QueuedMessage``), as
    far as one destination is concerned: ``rows`` are the ledger rows of its undelivered recipients there.
    A message whose recipients are at several destinations (the store, remote domains) is one part per
    destination, each under its own host retry record, as Exim routes each address on its own."""

    __slots__ = (
        "busy",
        "domain",
        "frozen",
        "group",
        "held",
        "key",
        "msg",
        "null_sender",
        "records",
        "rows",
        "slot",
        "wake",
    )

    def __init__(self, msg: Message, group, received: float, null_sender: bool, rows: list[int], domain: int):
        self.received = received
        self.warn = not null_sender  # no delay warnings about bounces and warnings
        self.warnings_sent = 0
        self.msg = msg
        self.group = group
        self.domain = domain  # the remote domain (-1: delivered to ``group``, the store)
        self.key = ("host", group.name) if domain < 0 else ("host", domain)  # the host retry record
        self.rows = rows
        self.slot = rows[0]  # its key on the spool
        self.null_sender = null_sender  # bounces and warnings: never bounced again, never warned about
        self.busy = False  # a delivery run has it (Exim locks the message)
        self.frozen = False
        self.held = False  # its last try found its destination unavailable (not a full mailbox)
        # When every recipient waits for its address retry time: nothing can happen to the message before
        # ``wake`` as long as its addresses' retry records are these very ``records`` (see _queue_run).
        self.wake = 0.0
        self.records: tuple = ()

    def address(self, r: int):
        """The per-address retry key of recipient row ``r``: its mailbox, or the remote recipient (with
        the sender: the row stands for both, as Exim's ``address_retry_include_sender``)."""
        return self.msg.boxes[r - self.msg.r0] if self.domain < 0 else ("rcpt", r)


class Frontend(Server):
    SERVICE = SmtpService  # the virtual address remote MTAs and users connect to
    # spool_held_messages: those whose last try found the destination unavailable (host down, LMTP cut,
    # 451), not a full mailbox: what an incident leaves waiting (the incident figures use it);
    # outbound_messages: the outbound queue, parts of messages waiting for a remote domain (one per
    # message and domain)
    GAUGES = ("spool_messages", "spool_bytes", "spool_held_messages", "outbound_messages")
    OUTAGE = (
        "its SMTP sessions drop (the senders retry) and it accepts and delivers nothing; its spool survives, "
        "and its queue runs start again when it is back"
    )
    spools_mail = True

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        exim = ctx.scenario.policies.exim
        self.exim = exim
        self.ledger = ctx.ledger
        # Exim keeps one retry hints database; its records for the store and its mailboxes and those for
        # remote hosts and addresses never share a key, so they are kept apart (the local path then asks
        # only about local records).
        self.retry, self.remote_retry = (
            RetryDatabase(
                parse_retry_line(exim.retry),
                retry_interval_max=exim.retry_interval_max,
                retry_data_expire=exim.retry_data_expire,
                delay_after_cutoff=exim.delay_after_cutoff,
                rng=ctx.streams.generator(stream),
            )
            for stream in (f"{name}.retry", f"{name}.retry.remote")
        )
        self.warning_times = parse_delay_warning(exim.delay_warning)
        self.spool: dict[int, Spooled] = {}  # by first ledger row, in arrival order
        self._copies: dict[int, int] = {}  # message id -> its parts on the spool
        self.spool_bytes = 0
        self.spool_peak = 0  # the most messages (and bytes) the spool held at once
        self.spool_peak_bytes = 0
        self.held = 0  # messages on the spool with ``held`` set
        self.outbound = 0  # parts on the spool for remote domains
        self.runners = 0
        # What this frontend's Exim did, for the KPIs.
        self.counts = dict.fromkeys(
            (
                "accepted",
                "attempts",
                "refused",
                "retry_time_not_reached",
                "bounced",
                "bounces_sent",
                "warnings_sent",
                "frozen",
                "notices_sent",
                "deliveries_cut",
                "lost",
            ),
            0,
        )
        self._order = ctx.streams.generator(f"{name}.queue_order")
        self._phase = ctx.streams.generator(f"{name}.queue_phase")
        self._notice_domains = ctx.streams.generator(f"{name}.notice_domain")
        ledger = ctx.ledger
        self._spool_stage = ledger.stages.code("spool")
        self._frozen_stage = ledger.stages.code("frozen")
        self._origin = ledger.origins.code(name)
        lookup = (
            ctx.streams.sampler(f"{name}.blocklist_lookup", spec.blocklist_lookup)
            if spec.blocklist_lookup is not None
            else float  # float() is 0.0: no lookup time
        )
        self.smtp = SmtpListener(self, spec, lookup)

    def start(self) -> None:
        # Peers through the graph (topology.LINKS, DEPENDENCIES): None where the scenario has none.
        self.blocklist = self.peer("blocklist")
        self.ldap = self.peer("ldap")
        self.kdc = self.peer("kdc")
        self.scanners = self.peer("scanner")  # through the balancer's virtual address
        self.local = self.peer("store")  # the route for local mailboxes (stage 9)
        self.mailboxes = self.ctx.mailboxes
        self.internet = self.peer("internet")  # remote domains: outbound mail, bounces, delay warnings
        self.internal = self.peer("internal")  # the subdomains' servers and the relay's systems (seed §4, §5)
        self.lists = self.peer("lists")  # the list server: posts to the lists, bounces of their copies
        self.remote: Internet | None = self.internet.members[0] if self.internet is not None else None
        self._daemon_process = self.env.process(self._daemon(restart=False))

    # -- down and back -------------------------------------------------------------------------------------

    def went_down(self) -> None:
        """Exim dies with its host: every SMTP connection drops, the daemon and its queue runners die, a
        delivery in flight gets no acknowledgement. The spool is on disk: it survives."""
        super().went_down()
        self.smtp.drop_all()
        self.runners = 0
        if self._daemon_process.is_alive:
            self._daemon_process.interrupt()

    def lose_data(self) -> int:
        """Its spool disk is gone: every recipient waiting on it is lost there (``spool lost``), and
        frozen bounces with them."""
        now, ledger = self.env.now, self.ledger
        stage = ledger.stages.code("spool lost")
        lost = 0
        for item in self.spool.values():
            ledger.finish_rows(item.rows, now, LOST, stage, self.code)
            lost += len(item.rows)
        self.counts["lost"] += lost
        self.spool.clear()
        self._copies.clear()
        self.spool_bytes = 0
        self.held = 0
        self.outbound = 0
        return lost

    def came_up(self) -> None:
        """Exim's daemon starts again, with a queue run at once (daemon.c)."""
        super().came_up()
        self._daemon_process = self.env.process(self._daemon(restart=True))

    # -- accepting ---------------------------------------------------------------------------------------

    def enqueue(
        self,
        msg: Message,
        group,
        null_sender: bool = False,
        rows: list[int] | None = None,
        run: bool = True,
        domain: int = -1,
    ) -> Spooled:
        """Take responsibility for ``msg`` (the 250 after DATA) for ``rows`` (default: all its recipients)
        at one destination (``group``; for the remote domains' group, ``domain``) and start its immediate
        delivery run (``run`` False: the caller runs ``run_delivery`` itself)."""
        rows = msg.rows if rows is None else rows
        if group is self.internet and domain < 0:  # a message routed to "the Internet": some remote domain
            domain = int(self.remote.domains.pick(self._notice_domains, 1)[0])
        item = Spooled(msg, group, self.env.now, null_sender, rows, domain)
        self.counts["accepted"] += 1
        self.spool[item.slot] = item
        copies = self._copies.get(msg.id, 0)
        self._copies[msg.id] = copies + 1
        if not copies:  # one spool file per message, whatever its destinations
            self.spool_bytes += msg.size
            if len(self._copies) > self.spool_peak:
                self.spool_peak = len(self._copies)
            if self.spool_bytes > self.spool_peak_bytes:
                self.spool_peak_bytes = self.spool_bytes
        if domain >= 0:
            self.outbound += 1
        self.ledger.locate_rows(rows, self.code, self._spool_stage)
        if run:
            start(self.env, self.run_delivery(item))
        return item

    def route(
        self, msg: Message, rows: list[int], null_sender: bool = False, run: bool = False
    ) -> list[Spooled]:
        """Stage 9: accept ``rows`` of ``msg`` onto the spool, one part per destination: local recipients
        to the store (LMTP), subdomain recipients to their server (SMTP over the internal route), the
        others to their remote domains (SMTP)."""
        domains = msg.domains
        if domains is None:
            return [self.enqueue(msg, self.local, null_sender, rows, run)]
        r0 = msg.r0
        by_route: dict[int, list[int]] = {}
        for r in rows:
            by_route.setdefault(domains[r - r0], []).append(r)
        parts = []
        for d, rs in by_route.items():
            if d == LOCAL:
                parts.append(self.enqueue(msg, self.local, null_sender, rs, run))
            elif d == SUBDOMAIN:
                parts.append(self.enqueue(msg, self.internal, null_sender, rs, run))
            elif d == LISTS:
                parts.append(self.enqueue(msg, self.lists, null_sender, rs, run))
            else:
                parts.append(self.enqueue(msg, self.internet, null_sender, rs, run, domain=d))
        return parts

    # -- queue runners -----------------------------------------------------------------------------------

    def _daemon(self, restart: bool):
        """Exim's daemon: a queue runner every ``queue_interval``, at most ``queue_run_max`` at once. At the
        start of the run each frontend's daemon has its own phase (it started at its own boot time); a
        daemon started again after an outage begins with a queue run at once, as Exim's does."""
        env, interval = self.env, self.exim.queue_interval
        try:
            if not restart:
                yield env.timeout(float(self._phase.random()) * interval)
            while True:
                if self.runners < self.exim.queue_run_max and self.spool:
                    self.runners += 1
                    start(env, self._queue_run())
                yield env.timeout(interval)
        except simpy.Interrupt:
            return  # the host went down

    def _queue_run(self):
        boot = self.boot
        env = self.env
        asleep = 0
        try:
            spool, counts = self.spool, self.counts
            local, remote = self.retry.records, self.remote_retry.records
            items = list(spool.values())
            now = env.now
            for i in self._order.permutation(len(items)).tolist():  # queue_run_in_order is false
                item = items[i]
                if item.busy or item.frozen or spool.get(item.slot) is not item:
                    continue
                if item.wake - 1e-6 > now:
                    # Asleep (``_sleep``) if its records are still the ones it went to sleep with: another
                    # message's failure may have moved one past its last cutoff (it then fails at once).
                    # Inlined: most of a long spool sleeps, and a method call per message was most of the
                    # walk's cost.
                    records = remote if item.domain >= 0 else local
                    for key, rec in item.records:
                        if records.get(key) is not rec or rec.expired:
                            break
                    else:
                        asleep += 1
                        continue
                counts["retry_time_not_reached"] += asleep
                asleep = 0
                yield from self.run_delivery(item)
                if self.boot != boot:
                    return  # the host went down: its queue runner died with it
                now = env.now
        finally:
            self.counts["retry_time_not_reached"] += asleep
            if self.boot == boot:
                self.runners -= 1

    # -- one delivery run for one message ------------------------------------------------------------------

    def run_delivery(self, item: Spooled) -> Generator[float, None, None]:
        """One delivery run of ``item``: a generator (the caller's process goes on when it ends)."""
        if not self.up:
            return  # a frontend that is down delivers nothing; the message waits on its spool
        if item.busy or self.spool.get(item.slot) is not item:
            # The immediate runs of a message's parts go one after the other; while an earlier part waited
            # (a connect timeout), a queue runner may have taken this one (Exim locks the message) or
            # finished it.
            return
        item.busy = True
        item.wake = 0.0
        try:
            msg, counts, remote = item.msg, self.counts, item.domain >= 0
            db = self.remote_retry if remote else self.retry
            if not remote and self._all_due(item, db.records):
                # Most runs: neither the store nor a recipient's mailbox has a retry record, so every
                # address is due and the store is tried now (what delivery_run would decide; there is no
                # host record to clear), and the LMTP session follows without the general case's
                # bookkeeping.
                rows = item.rows
                target = item.group.connect()
                if target is not None and target.protocol == "lmtp":
                    counts["attempts"] += 1
                    yield from self._transfer(item, rows, db, target.lmtp(msg, rows, self), target.REASONS)
                    return
                run = connected(db, item.key, item, self.env.now, target, self.warning_times)
            else:
                rows = self._addresses_due(item, db) if db.records else item.rows
                if not rows:  # every address waits for its retry time: nothing tried, so no warning either
                    counts["retry_time_not_reached"] += 1
                    self._sleep(item, db)
                    return
                if remote:
                    d, reach = item.domain, self.remote.reach
                    connect = lambda: reach(d)  # noqa: E731
                else:
                    connect = item.group.connect
                run = delivery_run(db, item.key, item, self.env.now, connect, self.warning_times)
            counts["attempts"] += run.attempted
            counts["refused"] += run.attempted and run.step is not Step.DELIVER
            counts["retry_time_not_reached"] += run.retry_time_not_reached
            if run.step is Step.DELIVER:
                target = run.target
                if remote:
                    replies = target.smtp(msg, rows, self, item.domain)
                elif target.protocol == "lmtp":
                    replies = target.lmtp(msg, rows, self)
                elif target.protocol == "internal":
                    replies = target.receive(msg, rows, self)
                else:  # a generic class or station: the path through the graph
                    self._unspool(item)
                    state = yield from deliver(self.env, self.ledger, msg, item.group, target)
                    if state == BOUNCED and not item.null_sender:
                        self._notify(item, "bounce")
                    return
                yield from self._transfer(item, rows, db, replies, target.REASONS)
            elif run.step is Step.BOUNCE:
                self._give_up(item, item.rows, run.reason)
            else:
                self._hold(item, True)
                if remote and run.attempted and self.remote.connect_timeout:
                    boot = self.boot  # the connection times out before the run goes on
                    yield self.remote.connect_timeout
                    if self.boot != boot:
                        return
                if run.warn:
                    self._notify(item, "delay_warning")
        finally:
            item.busy = False

    @staticmethod
    def _all_due(item: Spooled, records: dict) -> bool:
        """Whether a local part's host and addresses have no retry record (then all are due)."""
        if not records:
            return True
        if item.key in records:
            return False
        msg = item.msg
        boxes, r0 = msg.boxes, msg.r0
        if boxes is None:
            return False
        for r in item.rows:  # noqa: SIM110 - a loop is faster than any() over a generator here
            if boxes[r - r0] in records:
                return False
        return True

    def _sleep(self, item: Spooled, db: RetryDatabase) -> None:
        """After a run in which no address was due: the earliest time a queue run could do anything
        with the message (an address's retry time, the ultimate address timeout, a record expiring).
        Queue runs skip it until then, as long as its records are unchanged; this only saves the work of
        asking, the outcome is what run_delivery would decide."""
        recs = []
        # The ultimate address timeout, on Exim's whole-second clock.
        wake = exim_time(item.received) + db.line.final_cutoff + 1
        for r in item.rows:
            key = item.address(r)
            rec = db.records.get(key)
            if rec is None or rec.expired:
                return
            recs.append((key, rec))
            wake = min(wake, rec.next_try, rec.time_stamp + db.retry_data_expire + 1)
        item.wake = wake
        item.records = tuple(recs)

    def _addresses_due(self, item: Spooled, db: RetryDatabase) -> list[int]:
        """Recipients whose per-address retry time has come (Exim checks them before routing); those
        whose address has failed for too long bounce now."""
        now = self.env.now
        due, failed = [], []
        for r in item.rows:
            key = item.address(r)
            if key not in db.records:
                due.append(r)
                continue
            check = db.check(key, now, item.received)
            if check is Check.ATTEMPT:
                due.append(r)
            elif check is not Check.DEFER:
                failed.append(r)
        if failed:
            self._give_up(item, failed, Check.FAIL_AFTER_CUTOFF.value)
        boxes = self.mailboxes
        if due and boxes.locked_count and item.group is self.local and item.msg.boxes is not None:
            # Exim routes every address again at each attempt: the directory now says that a mailbox
            # locked at its quota is deactivated, and its router fails the address (a bounce).
            status, mb, r0 = boxes.status_of, item.msg.boxes, item.msg.r0
            gone = [r for r in due if mb[r - r0] >= 0 and status[mb[r - r0]] == DEACTIVATED]
            if gone:
                self._give_up(item, gone, "deactivated")
                due = [r for r in due if r not in set(gone)]
        return due

    def _transfer(
        self, item: Spooled, rows: list[int], db: RetryDatabase, session, reasons: dict[str, str]
    ) -> Generator[float, None, None]:
        """The LMTP or SMTP session ``session`` to ``item``'s destination (connected) for ``rows``: each
        recipient's reply decides: 250 done, 4xx per-address retry, 5xx bounce (the reason from
        ``reasons``); no replies (the session was cut) is a host error."""
        boot = self.boot
        if len(rows) == len(item.rows):  # ``rows`` is taken from ``item.rows``: all are tried
            remaining = []
        else:
            tried = set(rows)
            remaining = [r for r in item.rows if r not in tried]  # their address retry time has not come
        replies = yield from session
        if self.boot != boot:
            return  # this frontend died during the session: the message waits on its spool
        if replies is None:  # the destination died during the session: no replies, a host error
            self._hold(item, True)
            self.counts["deliveries_cut"] += 1
            if db.failed(item.key, self.env.now, item.received):
                self._give_up(item, item.rows, "retry timeout exceeded")
            elif item.warning_due(self.env.now, self.warning_times):
                self._notify(item, "delay_warning")
            return
        temporary, permanent, unavailable = replies
        self._hold(item, unavailable)
        now = self.env.now
        if db.records:
            refused = set(temporary).union(r for r, _ in permanent) if temporary or permanent else ()
            for r in rows:
                if r not in refused:
                    db.succeeded(item.address(r))
        if not temporary and not permanent:  # all delivered: what the general case below comes to
            item.rows = remaining
            if item.frozen or self.spool.get(item.slot) is not item:
                return
            if not remaining:
                self._unspool(item)
                return
        by_reason: dict[str, list[int]] = {}
        for r, code in permanent:
            by_reason.setdefault(reasons[code], []).append(r)
        for r in temporary:
            if db.failed(item.address(r), now, item.received, host_error=False):
                by_reason.setdefault("retry timeout exceeded", []).append(r)
            else:
                remaining.append(r)
        item.rows = remaining + [r for failed in by_reason.values() for r in failed]
        for reason, failed in by_reason.items():
            self._give_up(item, failed, reason)
        if item.frozen or self.spool.get(item.slot) is not item:
            return
        if remaining:
            item.rows = sorted(remaining)
            self.ledger.locate_rows(item.rows, self.code, self._spool_stage)
            if item.warning_due(now, self.warning_times):
                self._notify(item, "delay_warning")
        else:
            self._unspool(item)

    def _give_up(self, item: Spooled, rows: list[int], reason: str) -> None:
        ledger = self.ledger
        if item.null_sender:
            # Exim freezes a bounce it cannot deliver rather than bounce the bounce.
            item.frozen = True
            self.counts["frozen"] += 1
            ledger.locate_rows(rows, self.code, self._frozen_stage)
            return
        rest = [r for r in item.rows if r not in rows]
        if rest:
            item.rows = rest
        else:
            self._unspool(item)
        self.counts["bounced"] += 1
        ledger.finish_rows(rows, self.env.now, BOUNCED, ledger.stages.code(reason), self.code)
        self._notify(item, "bounce", rows)

    def _hold(self, item: Spooled, held: bool) -> None:
        if item.held != held:
            item.held = held
            self.held += 1 if held else -1

    def _unspool(self, item: Spooled) -> None:
        if self.spool.pop(item.slot, None) is item:
            self._hold(item, False)
            if item.domain >= 0:
                self.outbound -= 1
            msg = item.msg
            copies = self._copies[msg.id] - 1
            if copies:
                self._copies[msg.id] = copies
            else:
                del self._copies[msg.id]
                self.spool_bytes -= msg.size

    def notify_recipients(self, mail: Message, rows: list[int]) -> None:
        """Stage 5: the attachment is held back and each recipient is told: a notice to the mailbox, or
        to the remote domain of a recipient outside."""
        ledger, now, size = self.ledger, self.env.now, int(self.exim.notice_size)
        r0 = mail.r0
        boxes = [mail.boxes[r - r0] for r in rows]
        domains = None if mail.domains is None else [mail.domains[r - r0] for r in rows]
        cls = ledger.classes.code("attachment_notice")
        mid, n0 = ledger.offer(len(rows), now, cls, self._origin, size, parent=mail.id, mailboxes=boxes)
        ledger.accept(n0, len(rows), now)
        self.counts["notices_sent"] += 1
        self.route(
            Message(mid, n0, len(rows), size, boxes, domains), list(range(n0, n0 + len(rows))), True, True
        )

    def _notify(self, item: Spooled, kind: str, rows: list[int] | None = None) -> None:
        """A bounce (about its recipients ``rows``) or delay warning about ``item`` to its sender."""
        exim = self.exim
        size = exim.notice_size
        if kind == "bounce":
            size += min(item.msg.size, exim.bounce_return_size_limit)
        self.counts["bounces_sent" if kind == "bounce" else "warnings_sent"] += 1
        self.reply(item.msg, kind, int(size), rows=rows)

    def reply(
        self, original: Message, kind: str, size: int, domain: int = -1, rows: list[int] | None = None
    ) -> None:
        """A new message from <> (traffic class ``kind``) to the sender of ``original``, accepted onto this
        spool: by LMTP to a local sender's mailbox, back to a downstream system behind the relay, else to
        the sender's remote ``domain`` (-1: one drawn by popularity), or to a list's bounce address at the
        list server (a bounce of a list copy names the failed ``rows``: Mailman scores them). Bounces,
        delay warnings and the store's vacation replies (``filters.py``) go this way."""
        ledger, now = self.ledger, self.env.now
        sender = original.sender
        boxes = [sender] if sender >= 0 else None
        cls = ledger.classes.code(kind)
        mid, r0 = ledger.offer(1, now, cls, self._origin, size, parent=original.id, mailboxes=boxes)
        ledger.accept(r0, 1, now)
        if sender == LISTS:
            about = (original, rows) if kind == "bounce" and rows is not None else None
            self.enqueue(Notice(mid, r0, 1, size, None, about), self.lists, null_sender=True)
            return
        notice = Message(mid, r0, 1, size, boxes)
        to = self.local if boxes is not None else self.internal if sender == SYSTEM else self.internet
        self.enqueue(notice, to, null_sender=True, domain=domain if to is self.internet else -1)

    # -- what the run reports ----------------------------------------------------------------------------

    def gauges(self) -> tuple[float, ...]:
        return len(self._copies), self.spool_bytes, self.held, self.outbound

    def results(self) -> dict[str, dict]:
        return {
            **super().results(),
            "queues": {
                "sessions": self.smtp.sessions,
                **self.counts,
                "spool_at_end": len(self._copies),
                "spool_peak_messages": self.spool_peak,
                "spool_peak_bytes": self.spool_peak_bytes,
            },
        }
