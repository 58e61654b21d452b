"""SMTP from the Internet to the frontends' Exim: docs/platform.md §3.1 stages 1-9.

``SmtpService`` is the virtual address remote MTAs connect to (mail.uni-paderborn.de behind the balancer
pair): the inbound workload hands it each message (``open_session``, then ``transaction`` in the remote
sender's process). It keeps the figures of all transactions. ``SmtpListener`` is one frontend's Exim
listener: its connection slots (``smtp_accept_max``) and the sessions it holds.

A transaction returns None when the platform answered for good (250 after DATA, or 5xx) and the stage
code of a temporary error (4xx, a connection that failed, or a session cut by a crash) otherwise; the
sender then retries on its own schedule or gives up.

Stages, in order (5xx: the state and ledger stage a recipient ends in; 4xx: the ledger stage of the
refusal the sender sees):
- connect through the balancer: 4xx ``connect`` (no frontend, a dead backend not yet detected, a balancer
  takeover) or ``smtp_accept_max`` (all connection slots taken);
- 1 blocklist lookup at connect: rejected ``blocklist``; 4xx ``blocklist unreachable``;
- 3 sender verification at MAIL: rejected ``sender verify``;
- 2, 3 LDAP lookup per recipient at RCPT: rejected ``deactivated`` or ``unknown recipient`` (per
  recipient); 4xx ``ldap unreachable``;
- 4, 6 milter call to a scanner through the balancer after DATA: rejected ``virus``; 4xx ``scan
  unreachable`` (also when the scanner fails during the scan), ``scan busy`` (concurrency limit), ``scan
  timeout`` (milter_timeout), ``scan invalid`` (the scanner has been without its central server longer
  than the grace);
- 5 attachment check of the file name (``policies.attachments``, ``sim/attachments.py``): ``attachment_held``
  at ``attachment: listed extension`` or ``attachment: spaces in the file name``; each recipient is told;
- 7 quarantine (the recipient enabled it, score >= ``policies.spam.quarantine_at``, seed: 50 %):
  ``quarantined`` at ``quarantine``, or pending there until the user asks for it (``quarantine.py``);
- 8 subject tags (``policies.spam``; seed: ``{SPAM!}`` >= 70 %, ``{SPAM?}`` 50-69 %): the score is in the
  ledger's ``spam_score``;
- 9 route: local mailbox -> the frontend's spool, then LMTP to the store (``components/frontend.py``).
A frontend that fails during a session answers nothing more: the session drops (4xx ``connection lost``
to the sender, who retries); what it accepted before stays on its spool.

Time: the frontend's CPU (``demand`` per session), the blocklist lookup, the SMTP dialogue's round trips
over the Internet, the LDAP query, DATA (the transfer at the sender's rate, with the frontend's CPU per
KB and its spool write going on while the data arrives: DATA ends when all three are done), then the
scan. Each SMTP reply's delay (from the client's last byte to the server's answer) is counted for the
SPECmail quality figure "replies within 5 s".

Cost: the part up to MAIL FROM is computed when the client connects (``open_session``): stations give
their end of service at once (``Station.assign``), so a message refused there (most spam: blocklisted)
needs no SimPy process and no event, unless the frontend is planned to fail before its reply. Everything
later runs in the sender's process, one timeout per step; the immediate delivery run of an accepted
message continues in the same process.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import TYPE_CHECKING

from twin.components.mailboxes import DEACTIVATED, UNKNOWN
from twin.components.quarantine import Quarantine
from twin.components.submission import Submission
from twin.sim import attachments
from twin.sim.flow import LOCAL
from twin.sim.ledger import STATE_CODE

if TYPE_CHECKING:
    from twin.components.base import Group
    from twin.components.frontend import Frontend
    from twin.sim.flow import Mail

REJECTED = STATE_CODE["rejected"]
REFUSAL_BIN = 10  # seconds: the resolution of the refusals counted per incident
HELD = STATE_CODE["attachment_held"]

DIALOGUE_ROUND_TRIPS = 4  # banner, EHLO, MAIL, DATA; one more per RCPT


class Stages:
    """The ledger stage codes of the SMTP transaction, looked up once: the final stages in the order a
    message meets them, then the temporary ones."""

    def __init__(self, ledger):
        code = ledger.stages.code
        self.blocklist = code("blocklist")
        self.sender_verify = code("sender verify")
        self.deactivated = code("deactivated")
        self.unknown_recipient = code("unknown recipient")
        self.virus = code("virus")
        # stage 5, by what the file name gave away (``sim/attachments.py``)
        self.attachment = {r: code(f"attachment: {r}") for r in attachments.REASONS}
        self.quarantine = code("quarantine")
        self.connect = code("connect")
        self.smtp_accept_max = code("smtp_accept_max")
        self.connection_lost = code("connection lost")
        self.blocklist_unreachable = code("blocklist unreachable")
        self.ldap_unreachable = code("ldap unreachable")
        self.scan_unreachable = code("scan unreachable")
        self.scan_busy = code("scan busy")
        self.scan_timeout = code("scan timeout")
        self.scan_invalid = code("scan invalid")


# What ``open_session`` returns when the session goes on: the frontend, the time it continues at, and the
# MAIL-stage refusal still to be given then (a stage code) or None.
Opened = tuple["Frontend", float, int | None]
Transaction = Generator[object, None, int | None]


class SmtpListener:
    """One frontend's Exim SMTP listener: its connection slots and the sessions that hold them.

    A session decided at connect (refused at MAIL) holds its slot until its refusal (``close_at``); a
    session that goes on holds it from its connect time (``open_at``) until the sender's process closes
    it (``close``). A crash drops every connection (``drop_all``)."""

    def __init__(self, fe: Frontend, spec, lookup):
        self.fe = fe
        self.accept_max = spec.smtp_accept_max
        self.milter_timeout = spec.milter_timeout
        self.lookup = lookup  # the blocklist query's time (a sampler, or float: none)
        self.sessions = 0  # SMTP sessions begun
        self.connections = 0  # sessions held by a sender's process
        self._opening: list[float] = []  # start times of such sessions, set up ahead of time (a heap)
        self._closing: list[float] = []  # end times of sessions decided at connect (a heap)

    def open_connections(self, now: float) -> int:
        opening = self._opening
        while opening and opening[0] <= now:
            heapq.heappop(opening)
            self.connections += 1  # the session has begun (it may even have ended: then this evens out)
        closing = self._closing
        while closing and closing[0] <= now:
            heapq.heappop(closing)
        return self.connections + len(closing)

    def open_at(self, t: float) -> None:
        """A session that a sender's process holds from ``t`` (now or later) until it calls ``close``."""
        if t <= self.fe.env.now:
            self.connections += 1
        else:
            heapq.heappush(self._opening, t)

    def close_at(self, t: float) -> None:
        """A session decided at connect holds its connection until ``t``."""
        heapq.heappush(self._closing, t)

    def close(self, boot: int) -> None:
        """A session begun under ``boot`` ends (a crash since then has dropped it already)."""
        if boot == self.fe.boot:
            self.connections -= 1

    def drop_all(self) -> None:
        self.connections = 0
        self._opening.clear()
        self._closing.clear()


class SmtpService:
    """The frontends' SMTP service as remote MTAs see it, with the figures of all its transactions."""

    name = "smtp"

    def __init__(self, ctx, frontends: Group):
        sc = ctx.scenario
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.mailboxes = ctx.mailboxes
        self.end = ctx.end
        self.frontends = frontends
        self.stages = Stages(ctx.ledger)
        self.rtt = 2 * sc.platform.network.internet_latency
        inbound = sc.workload.inbound
        self.transfer_rate = inbound.transfer_rate if inbound is not None else 1.0
        self.quarantine_at = sc.policies.spam.quarantine_at
        attachment_policy = sc.policies.attachments
        self._listed = frozenset(e.lower() for e in attachment_policy.extensions)
        self._spaces_max = attachment_policy.spaces_max
        self._holds: dict[str, int | None] = {}  # a file name -> the ledger stage of its hold (None: passes)
        self.reply_within = sc.outputs.quality.reply_within
        self.transactions = 0  # SMTP transactions remote senders began (each try counts)
        self.data_transfers = 0  # ... of which reached DATA
        self.tempfails: dict[int, int] = {}  # 4xx and failed connections, by ledger stage code
        # ... and by 10-second bin of the clock (int(now) // REFUSAL_BIN), for the incident figures
        self.tempfails_by_bin: dict[int, int] = {}
        # SMTP replies (from the client's last byte to the server's answer), and of them those later than
        # the quality target; counted where they happen (a method call per reply costs a few per cent).
        self.replies = 0
        self.replies_late = 0
        self.submission = Submission(ctx, self)  # the same frontends, for the users' mail (port 587)
        self.quarantine = Quarantine(ctx, frontends)  # stage 7, with its digests and releases

    def attachment_hold(self, name: str) -> int | None:
        """Stage 5 for an attachment called ``name``: the ledger stage of its hold, or None if it passes
        (``sim/attachments.py``)."""
        hold = self._holds.get(name, -1)
        if hold == -1:
            reason = attachments.held(name, self._listed, self._spaces_max)
            hold = self._holds[name] = None if reason is None else self.stages.attachment[reason]
        return hold

    def tempfail(self, stage: int, at: float | None = None) -> int:
        """Count a temporary refusal of an SMTP transaction at ``stage`` (at ``at``, default now); returns
        the stage."""
        self.tempfails[stage] = self.tempfails.get(stage, 0) + 1
        b = int(self.env.now if at is None else at) // REFUSAL_BIN
        self.tempfails_by_bin[b] = self.tempfails_by_bin.get(b, 0) + 1
        return stage

    def refused_between(self, start: float, end: float) -> int:
        """SMTP transactions deferred (4xx, failed connections) from ``start`` to ``end``, to the bin."""
        lo, hi = int(start) // REFUSAL_BIN, int(end) // REFUSAL_BIN
        return sum(n for b, n in self.tempfails_by_bin.items() if lo <= b <= hi)

    # -- connect to MAIL FROM, decided at connect ---------------------------------------------------------

    def open_session(
        self, now: float, r0: int, n: int, live: list[int] | None, blocklisted: bool, bad_sender: bool
    ) -> int | Opened | None:
        """Connect, the session's CPU, the blocklist lookup and MAIL FROM, decided at ``now`` (the time the
        client connects; no event may lie between the clock and ``now``), for the message whose
        recipients are rows ``r0``.. ``r0 + n - 1``, of which ``live`` (None: all) are still offered.

        Returns the stage code of a temporary error (int); None if the message was refused for good (its
        recipients are finished in the ledger at the time of the refusal); else ``(frontend, t,
        refused)``: the session goes on at ``t`` with a connection held, and ``refused`` is the MAIL-stage
        refusal to give then (None: none)."""
        st = self.stages
        self.transactions += 1
        fe = self.frontends.connect()
        if fe is None:
            return self.tempfail(st.connect, now)
        smtp = fe.smtp
        if smtp.open_connections(now) >= smtp.accept_max:
            return self.tempfail(st.smtp_accept_max, now)
        smtp.sessions += 1
        t = fe.station.assign(fe.service_time(), now) if fe.station is not None else now
        blocklist = fe.blocklist
        if blocklist is not None:
            if blocklist.connect() is None:
                return self.tempfail(st.blocklist_unreachable, now)
            t += smtp.lookup()
        self.replies += 1
        if t - now > self.reply_within:
            self.replies_late += 1
        refused = None
        if blocklisted and blocklist is not None:
            refused = st.blocklist
        elif bad_sender:
            refused = st.sender_verify
        if refused is None or t >= self.end or t >= fe.next_down:
            # The session goes on (or its refusal comes after the end of the run, or after the frontend's
            # next failure, which the process will meet): it waits at the frontend, holding a connection
            # until the sender's process closes it.
            smtp.open_at(now)
            self.ledger.locate_message(r0, n, live, fe.code, fe.stage)
            if refused is not None:
                return fe, t, refused
            rcpts = n if live is None else len(live)
            return fe, t + self.rtt * (DIALOGUE_ROUND_TRIPS + rcpts), None
        smtp.close_at(t)
        self._refuse_at_mail(r0, n, live, t, refused, fe, later=live is None)
        return None

    def _refuse_at_mail(self, r0, n, live, t, stage, fe, later=False) -> None:
        """Stage 1 or 3: every recipient still offered is rejected at ``t``. ``later``: nothing else
        touches these rows, so the ledger may write them with the hour's other refusals."""
        if later:
            self.ledger.finish_later(r0, n, t, REJECTED, stage, fe.code)
        else:
            self.ledger.finish_message(r0, n, live, t, REJECTED, stage, fe.code)

    # -- the rest of the session, in the sender's process ---------------------------------------------------

    def transaction(self, mail: Mail, opened: int | Opened | None = None) -> Transaction:
        """The sender's try; ``opened`` is the result of ``open_session`` if the caller made it already
        (possibly for a connect time still to come)."""
        if opened is None:
            opened = self.open_session(
                self.env.now, mail.r0, mail.n, mail.live, mail.blocklisted, mail.bad_sender
            )
        if opened is None or opened.__class__ is int:
            return opened
        fe, t, refused = opened
        boot = fe.boot
        try:
            result = yield from self._session(fe, boot, mail, t, refused)
        finally:
            fe.smtp.close(boot)
        yield from self.deliver_now(fe, mail)
        return result

    def deliver_now(self, fe: Frontend, mail: Mail) -> Generator[object, None, None]:
        """The immediate delivery runs of what the session put on ``fe``'s spool, in the client's process."""
        parts = mail.spooled
        if parts is not None:
            mail.spooled = None
            for item in parts:
                yield from fe.run_delivery(item)

    def _session(self, fe: Frontend, boot: int, mail: Mail, t: float, refused: int | None) -> Transaction:
        env, st = self.env, self.stages
        yield t - env.now
        if fe.boot != boot:
            return self.tempfail(st.connection_lost)
        if refused is not None:
            self._refuse_at_mail(mail.r0, mail.n, mail.live, env.now, refused, fe)
            return None
        live = mail.live if mail.live is not None else mail.rows

        # RCPT: one directory lookup per recipient; the replies come when the lookup is done.
        now = env.now
        done = now
        ldap = fe.ldap
        node = None
        if ldap is not None:
            node = ldap.connect()
            if node is None:
                return self.tempfail(st.ldap_unreachable)
            if node.station is not None:
                done = node.station.assign(node.service_time() * len(live), now)
            ldap_boot = node.boot
        self.replies += 1
        if done - now > self.reply_within:
            self.replies_late += 1
        # The replies come at ``done``. When neither the frontend nor the LDAP server can fail before then
        # (no failure planned) they are certain now, and a message whose recipients are all refused
        # needs no event; otherwise wait and see who is still there.
        waited = done >= fe.next_down or (node is not None and done >= node.next_down) or done >= self.end
        if waited:
            yield done - now
            if fe.boot != boot:
                return self.tempfail(st.connection_lost)
            if node is not None and node.boot != ldap_boot:  # the directory server failed meanwhile
                return self.tempfail(st.ldap_unreachable)
        live = self.check_recipients(fe, mail, live, done)
        if not live:
            return None

        # DATA, with the frontend's CPU and spool write going on while the data arrives. Replies certain
        # now (not ``waited``) need no event: DATA begins at ``done``, its work is queued from now.
        return (yield from self.data(fe, boot, mail, live, self.transfer_rate, self.rtt, self, done))

    def check_recipients(self, fe: Frontend, mail: Mail, live: list[int], at: float) -> list[int]:
        """Stages 2 and 3 at RCPT, answered at ``at``: local recipients whose address is deactivated or
        unknown are rejected; returns the others (subdomain recipients have their route in the directory,
        seed §4; remote recipients of a submission pass: the frontends relay for authenticated users and
        the relay's systems). ``mail.live`` keeps the recipients still in the transaction."""
        status = self.mailboxes.status_of
        ledger, st, code = self.ledger, self.stages, fe.code
        boxes, r0, domains = mail.boxes, mail.r0, mail.domains
        keep = []
        for r in live:
            box = boxes[r - r0]
            s = UNKNOWN if box < 0 else status[box]
            if s == DEACTIVATED:
                ledger.finish(r, 1, at, REJECTED, st.deactivated, code)
            elif s == UNKNOWN and (domains is None or domains[r - r0] == LOCAL):
                ledger.finish(r, 1, at, REJECTED, st.unknown_recipient, code)
            else:
                keep.append(r)
        if len(keep) < len(live):
            mail.live = keep
        return keep

    def data(
        self,
        fe: Frontend,
        boot: int,
        mail: Mail,
        live: list[int],
        rate: float,
        rtt: float,
        stats,
        begin: float | None = None,
    ) -> Transaction:
        """DATA from a client that sends at ``rate`` bytes/s over a path of round trip ``rtt``, then the
        scan, the 250 and stages 4-9 for the recipients ``live``, in the client's process. DATA begins at
        ``begin`` (default now; a later time when the frontend cannot fail before it); the frontend's CPU
        per KB and its spool write are queued from now. ``stats`` counts the transfer and the reply (this
        service, or the submission service). Returns what ``transaction`` does."""
        env, ledger, st = self.env, self.ledger, self.stages
        now = env.now
        stats.data_transfers += 1
        size = mail.size
        data_end = (now if begin is None else begin) + size / rate + rtt
        if fe.per_kb and fe.station is not None:
            cpu_end = fe.station.assign(size * (1 / 1024) * fe.per_kb, now)
            if cpu_end > data_end:
                data_end = cpu_end
        if fe.disk is not None:
            disk_end = fe.disk.assign(fe.disk_time(size), now)
            if disk_end > data_end:
                data_end = disk_end
        yield data_end - now
        if fe.boot != boot:
            return stats.tempfail(st.connection_lost)

        scanned = fe.scanners is not None  # without a scan cluster nothing is scanned, scored or held
        if scanned:
            refused, answered, sc = self._scan(fe, mail, data_end)
            if answered > data_end:
                scan_boot = sc.boot if sc is not None else 0
                yield answered - data_end
                if fe.boot != boot:
                    return stats.tempfail(st.connection_lost)
                if sc is not None and sc.boot != scan_boot:  # the scanner failed during the scan
                    refused = st.scan_unreachable
            stats.replies += 1
            if answered - data_end > self.reply_within:
                stats.replies_late += 1
            if refused is None and not sc.valid():
                sc.invalid_answers += 1
                refused = st.scan_invalid
            if refused is not None:
                return stats.tempfail(refused)
            ledger.set_rows("spam_score", live, mail.spam)
            if mail.virus:
                ledger.finish_rows(live, env.now, REJECTED, st.virus, fe.code)
                return None
        else:
            stats.replies += 1

        # 250: the frontend is responsible from here.
        now = env.now
        ledger.accept_rows(live, now)
        if scanned and mail.attachment:
            hold = self.attachment_hold(mail.attachment)
            if hold is not None:
                ledger.finish_rows(live, now, HELD, hold, fe.code)
                fe.notify_recipients(mail, live)
                return None
        if scanned and mail.spam >= self.quarantine_at:
            q = self.mailboxes.quarantine_of
            boxes, r0 = mail.boxes, mail.r0
            held, rest = [], []
            for r in live:
                box = boxes[r - r0]
                (held if box >= 0 and q[box] else rest).append(r)
            if held:
                self.quarantine.hold(mail, held, now, fe)
                live = rest
                if not live:
                    return None
        mail.spooled = fe.route(mail, live)
        return None

    def _scan(self, fe: Frontend, mail: Mail, now: float):
        """The milter call made at ``now``: (the refusal's stage or None, when the answer comes, the
        scanner). Whether the scanner's verdict is valid (``Scanner.valid``) is for the caller to ask
        when it comes."""
        st = self.stages
        sc = fe.scanners.connect()
        if sc is None:
            return st.scan_unreachable, now, None
        if not sc.accepts(now):
            return st.scan_busy, now, sc
        if sc.station is None:
            return None, now, sc
        end = sc.station.assign_within(sc.work(mail.size), fe.smtp.milter_timeout)
        if end is None:
            return st.scan_timeout, now + fe.smtp.milter_timeout, sc
        return None, end, sc

    def results(self) -> dict[str, dict]:
        return {
            "smtp": self._figures(self),
            "submission": self._figures(self.submission),
            "quarantine": self.quarantine.results(),
        }

    def _figures(self, stats) -> dict:
        """The figures of the transactions counted by ``stats`` (this service, or the submission service)."""
        names = self.ledger.stages.names
        return {
            "transactions": stats.transactions,
            "reached_data": stats.data_transfers,
            "temporary_errors_by_stage": {
                names[c]: n for c, n in sorted(stats.tempfails.items(), key=lambda kv: -kv[1])
            },
            "replies": stats.replies,
            "replies_within_target": stats.replies - stats.replies_late,
        }
