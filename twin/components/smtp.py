"""One SMTP transaction of a remote sender with a frontend's Exim: PLATFORM.md §2 stages 1-9.

The transaction is a generator run in the remote sender's process (``flow.journey``). It returns None
when the platform answered for good (250 after DATA, or 5xx) and the stage code of a temporary error
(4xx, or a connection that failed) otherwise; the sender then retries on its own schedule or gives up.

Stages, in order (5xx: the state and ledger stage a recipient ends in; 4xx: the ledger stage of the
refusal the sender sees):
- connect through the balancer: 4xx ``connect`` (no frontend, a dead backend not yet detected, a balancer
  takeover) or ``smtp_accept_max`` (all connection slots taken);
- 1 blocklist lookup at connect: rejected ``blocklist``; 4xx ``blocklist unreachable``;
- 3 sender verification at MAIL: rejected ``sender verify``;
- 2, 3 LDAP lookup per recipient at RCPT: rejected ``deactivated`` or ``unknown recipient`` (per
  recipient); 4xx ``ldap unreachable``;
- 4, 6 milter call to a scanner through the balancer after DATA: rejected ``virus``; 4xx ``scan
  unreachable``, ``scan busy`` (concurrency limit), ``scan timeout`` (milter_timeout), ``scan invalid``
  (the scanner has been without its central server longer than the grace);
- 5 attachment check: ``attachment_held`` at ``attachment``; each recipient gets a notice in the mailbox;
- 7 quarantine (the recipient enabled it, score >= ``policies.spam.quarantine_at``, seed: 50 %):
  ``quarantined`` at ``quarantine``;
- 8 subject tags (``policies.spam``; seed: ``{SPAM!}`` >= 70 %, ``{SPAM?}`` 50-69 %): the score is in the
  ledger's ``spam_score``;
- 9 route: local mailbox -> the frontend's spool, then LMTP to the store (``components/frontend.py``).

Time: the frontend's CPU (``demand`` per session), the blocklist lookup, the SMTP dialogue's round trips
over the Internet, the LDAP query, DATA (the transfer at the sender's rate, with the frontend's CPU per
KB and its spool write going on while the data arrives: DATA ends when all three are done), then the
scan. Each SMTP reply's delay (from the client's last byte to the server's answer) is recorded for the
SPECmail quality figure "replies within 5 s".

Cost: the part up to MAIL FROM is computed when the client connects (``open_session``): stations give
their end of service at once (``Station.assign``), so a message refused there (most spam: blocklisted)
needs no SimPy process and no event. Everything later runs in the sender's process, one timeout per
step; the immediate delivery run of an accepted message continues in the same process.
"""

from __future__ import annotations

from twin.sim.ledger import STATE_CODE
from twin.workload.mailboxes import DEACTIVATED, UNKNOWN

REJECTED = STATE_CODE["rejected"]
HELD = STATE_CODE["attachment_held"]
QUARANTINED = STATE_CODE["quarantined"]

# Ledger stage names, in the order a message meets them (the funnel's order).
FINAL_STAGES = (
    "blocklist",
    "sender verify",
    "deactivated",
    "unknown recipient",
    "virus",
    "attachment",
    "quarantine",
)
TEMPORARY_STAGES = (
    "connect",
    "smtp_accept_max",
    "blocklist unreachable",
    "ldap unreachable",
    "scan unreachable",
    "scan busy",
    "scan timeout",
    "scan invalid",
)
DIALOGUE_ROUND_TRIPS = 4  # banner, EHLO, MAIL, DATA; one more per RCPT


class Stages:
    """Stage codes in the ledger's vocabulary, looked up once."""

    def __init__(self, ledger):
        for name in FINAL_STAGES + TEMPORARY_STAGES:
            setattr(self, name.replace(" ", "_"), ledger.stages.code(name))


def open_session(model, group, now: float, r0: int, n: int, live, blocklisted: bool, bad_sender: bool):
    """Connect, the session's CPU, the blocklist lookup and MAIL FROM, decided at ``now`` (the time the
    client connects; no event may lie between the caller's clock and ``now``), for the message whose
    recipients are rows ``r0``.. ``r0 + n - 1``, of which ``live`` (None: all) are still offered.

    Returns the stage code of a temporary error (int); None if the message was refused for good (its
    recipients are finished in the ledger at the time of the refusal); else ``(frontend, t, checked)``:
    the session goes on at ``t`` with a connection held. ``checked`` False means the MAIL-stage checks
    are still to be made at ``t`` (the refusal would come after the end of the run).
    """
    st = model.smtp_stages
    model.transactions += 1
    fe = group.connect()
    if fe is None:
        return model.tempfail(st.connect)
    if fe.open_connections(now) >= fe.accept_max:
        return model.tempfail(st.smtp_accept_max)
    fe.sessions += 1
    ledger = model.ledger
    t = fe.station.assign(fe.service_time(), now) if fe.station is not None else now
    blocklist = fe.blocklist
    if blocklist is not None:
        if blocklist.connect() is None:
            return model.tempfail(st.blocklist_unreachable)
        t += fe.lookup()
    model.smtp_replies.append(t - now)
    refused = None
    if blocklisted and blocklist is not None:
        refused = st.blocklist
    elif bad_sender:
        refused = st.sender_verify
    if refused is None or t >= model.end:
        # The session goes on (or its refusal comes after the end of the run): it waits at the frontend,
        # holding a connection until the sender's process closes it.
        fe.open_at(now)
        if live is None:
            ledger.locate(r0, n, fe.code, fe.stage)
        else:
            ledger.locate_rows(live, fe.code, fe.stage)
        if refused is not None:
            return fe, t, False
        rcpts = n if live is None else len(live)
        return fe, t + 2 * model.internet_latency * (DIALOGUE_ROUND_TRIPS + rcpts), True
    fe.close_at(t)
    if live is None:
        ledger.finish_later(r0, n, t, REJECTED, refused, fe.code)  # nothing else touches these rows
    else:
        ledger.finish_rows(live, t, REJECTED, refused, fe.code)
    return None


def smtp_transaction(model, mail, group, opened=None):
    """The sender's try at ``group`` (the frontends' virtual address); ``opened`` is the result of
    ``open_session`` if the caller made it already (possibly for a connect time still to come)."""
    if opened is None:
        opened = open_session(
            model, group, model.env.now, mail.r0, mail.n, mail.live, mail.blocklisted, mail.bad_sender
        )
    if opened is None or opened.__class__ is int:
        return opened
    fe, t, checked = opened
    try:
        result = yield from _session(model, fe, mail, t, checked)
    finally:
        fe.connections -= 1
    item = mail.spooled
    if item is not None:  # the immediate delivery run, in this process
        mail.spooled = None
        yield from fe.run_delivery(item)
    return result


def _session(model, fe, mail, t, checked):
    env, ledger, st = model.env, model.ledger, model.smtp_stages
    rtt = 2 * model.internet_latency
    yield env.timeout(t - env.now)
    live = mail.live if mail.live is not None else mail.rows
    if not checked:
        if mail.blocklisted and fe.blocklist is not None:
            return _final(model, live, REJECTED, st.blocklist, fe)
        if mail.bad_sender:
            return _final(model, live, REJECTED, st.sender_verify, fe)
        yield env.timeout(rtt * (DIALOGUE_ROUND_TRIPS + len(live)))

    # RCPT: one directory lookup per recipient; the replies come when the lookup is done.
    now = env.now
    done = now
    if fe.ldap is not None:
        node = fe.ldap.connect()
        if node is None:
            return model.tempfail(st.ldap_unreachable)
        if node.station is not None:
            done = node.station.assign(node.service_time() * len(live), now)
    model.smtp_replies.append(done - now)
    if done >= model.end:
        yield env.timeout(done - now)  # the replies come after the end of the run: still pending
    boxes = model.mailboxes
    col = ledger.cols["mailbox"]
    status = boxes.status_of
    keep = []
    for r in live:
        box = int(col[r])
        s = UNKNOWN if box < 0 else status[box]
        if s == DEACTIVATED:
            ledger.finish(r, 1, done, REJECTED, st.deactivated, fe.code)
        elif s == UNKNOWN:
            ledger.finish(r, 1, done, REJECTED, st.unknown_recipient, fe.code)
        else:
            keep.append(r)
    if len(keep) < len(live):
        mail.live = live = keep
        if not live:
            return None

    # DATA, with the frontend's CPU and spool write going on while the data arrives.
    yield env.timeout(done - env.now)
    model.data_transfers += 1
    size = mail.size
    data_end = done + size / model.transfer_rate + rtt
    if fe.per_kb and fe.station is not None:
        cpu_end = fe.station.assign(size * (1 / 1024) * fe.per_kb, done)
        if cpu_end > data_end:
            data_end = cpu_end
    if fe.disk is not None:
        disk_end = fe.disk.assign(fe.disk_time(size), done)
        if disk_end > data_end:
            data_end = disk_end
    yield env.timeout(data_end - done)

    scanned = fe.scanners is not None  # without a scan cluster nothing is scanned, scored or held
    if scanned:
        refused, answered, sc = _scan(fe, mail, st, data_end)
        if answered > data_end:
            yield env.timeout(answered - data_end)
        model.smtp_replies.append(answered - data_end)
        if refused is None and not sc.valid():
            sc.invalid_answers += 1
            refused = st.scan_invalid
        if refused is not None:
            return model.tempfail(refused)
        ledger.set_rows("spam_score", live, mail.spam)
        if mail.virus:
            return _final(model, live, REJECTED, st.virus, fe)
    else:
        model.smtp_replies.append(0.0)

    # 250: the frontend is responsible from here.
    now = env.now
    ledger.accept_rows(live, now)
    if scanned and mail.attachment >= 2:
        _final(model, live, HELD, st.attachment, fe)
        fe.notify_recipients(mail, live)
        return None
    if scanned and mail.spam >= model.quarantine_at:
        q = boxes.quarantine_of
        held, rest = [], []
        for r in live:
            box = int(col[r])
            (held if box >= 0 and q[box] else rest).append(r)
        if held:
            ledger.finish_rows(held, now, QUARANTINED, st.quarantine, fe.code)
            live = rest
            if not live:
                return None
    mail.spooled = fe.enqueue(mail, fe.local, rows=live, run=False)
    return None


def _final(model, rows, state, stage, fe):
    model.ledger.finish_rows(rows, model.env.now, state, stage, fe.code)
    return None


def _scan(fe, mail, st, now: float):
    """The milter call made at ``now``: (the refusal's stage or None, when the answer comes, the scanner).
    Whether the scanner's verdict is valid (``Scanner.valid``) is for the caller to ask when it comes."""
    sc = fe.scanners.connect()
    if sc is None:
        return st.scan_unreachable, now, None
    if not sc.accepts(now):
        return st.scan_busy, now, sc
    if sc.station is None:
        return None, now, sc
    end = sc.station.assign_within(sc.work(mail.size), fe.milter_timeout)
    if end is None:
        return st.scan_timeout, now + fe.milter_timeout, sc
    return None, end, sc
