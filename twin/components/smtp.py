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
- 7 quarantine (the recipient enabled it, score >= 50 %): ``quarantined`` at ``quarantine``;
- 8 subject tag ``{SPAM!}`` >= 70 %, ``{SPAM?}`` 50-69 %: the score is in the ledger's ``spam_score``;
- 9 route: local mailbox -> the frontend's spool, then LMTP to the store (``components/frontend.py``).

Time: the frontend's CPU (``demand`` per session, ``demand_per_kb`` for DATA), the blocklist lookup, the
SMTP dialogue's round trips over the Internet, the LDAP query, the DATA transfer at the sender's rate,
the spool write on the frontend's disk and the scan. Each SMTP reply's delay (from the client's last
byte to the server's answer) is recorded for the SPECmail quality figure "replies within 5 s".
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
QUARANTINE_AT = 50  # percent (seed §3.1 step 7)


class Stages:
    """Stage codes in the ledger's vocabulary, looked up once."""

    def __init__(self, ledger):
        for name in FINAL_STAGES + TEMPORARY_STAGES:
            setattr(self, name.replace(" ", "_"), ledger.stages.code(name))


def smtp_transaction(model, mail, group):
    """The sender's try at ``group`` (the frontends' virtual address)."""
    st = model.smtp_stages
    model.transactions += 1
    fe = group.connect()
    if fe is None:
        return model.tempfail(st.connect)
    fe.counts["sessions"] += 1
    if fe.connections >= fe.accept_max:
        return model.tempfail(st.smtp_accept_max)
    fe.connections += 1
    try:
        return (yield from _session(model, fe, mail, st))
    finally:
        fe.connections -= 1


def _session(model, fe, mail, st):
    env, ledger = model.env, model.ledger
    live = mail.live if mail.live is not None else mail.rows
    ledger.locate_rows(live, fe.code, fe.stage)
    rtt = 2 * model.internet_latency

    # Connect, EHLO, MAIL, RCPT: the frontend's CPU for the session, the blocklist lookup.
    asked = env.now
    if fe.station is not None:
        yield from fe.station.serve(fe.service_time())
    if fe.blocklist is not None:
        if fe.blocklist.connect() is None:
            return model.tempfail(st.blocklist_unreachable)
        yield env.timeout(fe.lookup())
    model.smtp_replies.append(env.now - asked)
    if mail.blocklisted and fe.blocklist is not None:
        return _final(model, mail, live, REJECTED, st.blocklist, fe)
    if mail.bad_sender:
        return _final(model, mail, live, REJECTED, st.sender_verify, fe)
    yield env.timeout(rtt * (DIALOGUE_ROUND_TRIPS + len(live)))

    # RCPT: one directory lookup per recipient.
    asked = env.now
    if fe.ldap is not None:
        node = fe.ldap.connect()
        if node is None:
            return model.tempfail(st.ldap_unreachable)
        if node.station is not None:
            yield from node.station.serve(node.service_time() * len(live))
    model.smtp_replies.append(env.now - asked)
    boxes = model.mailboxes
    col = ledger.cols["mailbox"]
    keep = []
    for r in live:
        box = col[r]
        status = UNKNOWN if box < 0 else boxes.status[box]
        if status == DEACTIVATED:
            ledger.finish(r, 1, env.now, REJECTED, st.deactivated, fe.code)
        elif status == UNKNOWN:
            ledger.finish(r, 1, env.now, REJECTED, st.unknown_recipient, fe.code)
        else:
            keep.append(r)
    if len(keep) < len(live):
        mail.live = live = keep
        if not live:
            return None

    # DATA: the transfer, then the frontend's work on the content and the milter call.
    yield env.timeout(mail.size / model.transfer_rate + rtt)
    asked = env.now
    if fe.per_kb and fe.station is not None:
        yield from fe.station.serve(mail.size * (1 / 1024) * fe.per_kb)
    if fe.disk is not None:
        yield from fe.disk.serve(fe.disk_time(mail.size))
    scanned = fe.scanners is not None  # without a scan cluster nothing is scanned, scored or held
    if scanned:
        refused = yield from _scan(model, fe, mail, st)
        if refused is not None:
            model.smtp_replies.append(env.now - asked)
            return model.tempfail(refused)
        ledger.cols["spam_score"][live] = mail.spam
    model.smtp_replies.append(env.now - asked)
    if scanned and mail.virus:
        return _final(model, mail, live, REJECTED, st.virus, fe)

    # 250: the frontend is responsible from here.
    now = env.now
    ledger.accept_rows(live, now)
    if scanned and mail.attachment >= 2:
        _final(model, mail, live, HELD, st.attachment, fe)
        fe.notify_recipients(mail, live)
        return None
    if scanned and mail.spam >= QUARANTINE_AT:
        q = boxes.quarantine
        held = [r for r in live if col[r] >= 0 and q[col[r]]]
        if held:
            ledger.finish_rows(held, now, QUARANTINED, st.quarantine, fe.code)
            live = [r for r in live if not (col[r] >= 0 and q[col[r]])]
            if not live:
                return None
    fe.enqueue(mail, fe.local, rows=live)
    return None


def _final(model, mail, rows, state, stage, fe):
    model.ledger.finish_rows(rows, model.env.now, state, stage, fe.code)
    return None


def _scan(model, fe, mail, st):
    """The milter call: None if a scanner gave a valid verdict in time, else the refusal's stage."""
    sc = fe.scanners.connect()
    if sc is None:
        return st.scan_unreachable
    if not sc.accepts():
        return st.scan_busy
    if sc.station is not None:
        served = yield from sc.station.serve_within(sc.work(mail.size), fe.milter_timeout)
        if not served:
            return st.scan_timeout
    if not sc.valid():
        sc.invalid_answers += 1
        return st.scan_invalid
    return None
