"""SMTP submission by the university's users (docs/platform.md §2: the frontends offer SMTP(S) submission;
users log in with Kerberos single sign-on, or with their directory password): the same frontends behind
the balancer, in the user's client's process (``twin/workload/submission.py`` offers the messages).

A try, in order (4xx: the ledger stage of the temporary refusal the client sees; it retries on its own
schedule, ``workload.submission.client``):
- connect through the balancer: 4xx ``connect``, ``smtp_accept_max`` as for inbound mail;
- the session's CPU, then AUTH: Kerberos (GSSAPI, a ticket check at the KDC: 4xx ``kdc unreachable``) or
  a password (an LDAP bind: 4xx ``ldap unreachable``);
- RCPT: a directory lookup per local recipient (stages 2, 3: deactivated or unknown local addresses are
  rejected; 4xx ``ldap unreachable``); remote recipients are relayed for the authenticated user;
- DATA at the user's upload rate, the scan and stages 4-8 as for inbound mail, and stage 9: each recipient
  routed to the store (LMTP) or to its remote domain (SMTP), both from the frontend's spool.

There is no blocklist lookup and no sender verification: the user is authenticated. The dialogue's round
trips are over the client's path (``client_latency``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twin.scenario.schema import Submission as SubmissionSpec

if TYPE_CHECKING:
    from twin.components.smtp import SmtpService, Transaction
    from twin.sim.flow import Mail

# banner, EHLO, STARTTLS, EHLO, AUTH, MAIL; one more per RCPT (DATA's is in ``SmtpService.data``)
ROUND_TRIPS = 6


class Submission:
    """The frontends' submission service (port 587), with the figures of all its transactions."""

    def __init__(self, ctx, service: SmtpService, rtt: float | None = None, rate: float | None = None):
        """The users' submission service; with ``rtt`` and ``rate``, the same for another client inside
        (Mailman, ``components/mailman.py``) with its round trip to the frontends and its sending rate."""
        self.service = service
        self.env = ctx.env
        self.ledger = ctx.ledger
        spec = ctx.scenario.workload.submission
        if rtt is None:
            rtt = 2 * (spec.client_latency if spec is not None else 0.0)
        if rate is None:
            rate = (
                spec.upload_rate if spec is not None else SubmissionSpec.model_fields["upload_rate"].default
            )
        self.rtt, self.rate = rtt, float(rate)
        self.reply_within = service.reply_within
        code = ctx.ledger.stages.code
        self.kdc_unreachable = code("kdc unreachable")
        self.transactions = 0
        self.data_transfers = 0
        self.tempfails: dict[int, int] = {}
        self.replies = 0
        self.replies_late = 0

    def tempfail(self, stage: int) -> int:
        self.tempfails[stage] = self.tempfails.get(stage, 0) + 1
        return stage

    def transaction(self, mail: Mail, opened: object = None) -> Transaction:
        """One try of the user's client; returns None when the platform took or refused the message for
        good, else the stage code of the temporary refusal."""
        service, env = self.service, self.env
        st = service.stages
        self.transactions += 1
        fe = service.frontends.connect()
        if fe is None:
            return self.tempfail(st.connect)
        smtp, now = fe.smtp, env.now
        if smtp.open_connections(now) >= smtp.accept_max:
            return self.tempfail(st.smtp_accept_max)
        smtp.sessions += 1
        smtp.open_at(now)
        boot = fe.boot
        self.ledger.locate_message(mail.r0, mail.n, mail.live, fe.code, fe.stage)
        try:
            result = yield from self._session(fe, boot, mail)
        finally:
            smtp.close(boot)
        yield from service.deliver_now(fe, mail)
        return result

    def _session(self, fe, boot: int, mail: Mail) -> Transaction:
        service, env = self.service, self.env
        st = service.stages
        now = env.now
        t = fe.station.assign(fe.service_time(), now) if fe.station is not None else now
        # AUTH: a ticket check at the KDC or a bind to the directory; none for the relay's systems.
        auth, refusal = (fe.kdc, self.kdc_unreachable) if mail.kerberos else (fe.ldap, st.ldap_unreachable)
        node = None
        if auth is not None and mail.kerberos is not None:
            node = auth.connect()
            if node is None:
                return self.tempfail(refusal)
            if node.station is not None:
                t = node.station.assign_after(node.service_time(), t)
        self._reply(t - now)
        # RCPT: a directory lookup per local recipient.
        live = mail.live if mail.live is not None else mail.rows
        domains, r0 = mail.domains, mail.r0
        local = len(live) if domains is None else sum(1 for r in live if domains[r - r0] < 0)
        ldap = None
        if local and fe.ldap is not None:
            ldap = fe.ldap.connect()
            if ldap is None:
                return self.tempfail(st.ldap_unreachable)
            if ldap.station is not None:
                done = ldap.station.assign_after(ldap.service_time() * local, t)
                self._reply(done - t)
                t = done
        t += self.rtt * (ROUND_TRIPS + len(live))
        # The RCPT replies come at ``t``. When neither the frontend nor the servers asked can fail before
        # then (no failure planned), they are certain now and DATA follows without an event.
        used = [n for n in (node, ldap) if n is not None]
        if t >= fe.next_down or t >= service.end or any(t >= n.next_down for n in used):
            boots = [n.boot for n in used]
            yield t - now
            if fe.boot != boot:
                return self.tempfail(st.connection_lost)
            for n, b in zip(used, boots, strict=True):
                if n.boot != b:  # the KDC or directory server failed meanwhile
                    return self.tempfail(refusal if n is node else st.ldap_unreachable)
        live = service.check_recipients(fe, mail, live, t)
        if not live:
            return None
        return (yield from service.data(fe, boot, mail, live, self.rate, self.rtt, self, t))

    def _reply(self, delay: float) -> None:
        """An SMTP reply ``delay`` seconds after the client's last byte (the quality figure)."""
        self.replies += 1
        if delay > self.reply_within:
            self.replies_late += 1
