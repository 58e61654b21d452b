"""The users reading their mail: IMAP, POP3 and webmail sessions at the store (seed §1, §2, §6;
docs/platform.md §B; docs/clients.md).

A session (``MailAccess.session``, a light process) reaches the store's address through the balancer
pair, logs in, reads what is new and may wait for more:

- **login**: with Kerberos the client first gets a service ticket from the KDC (one exchange at the
  KDC); with a password the store binds to LDAP as the user. Then the store does the login's CPU work
  (TLS handshake, SASL). It fails, and the client tries again after ``retry`` while its session would
  last, when the balancer pair is taking over or down (``balancer``), no store answers at the address
  (``store unreachable``: down, or a switch-over in progress), the KDC or every LDAP server cannot be
  reached (``kdc unreachable``, ``ldap unreachable``), or one of them fails before the reply
  (``connection lost``); a login whose mailbox cannot be opened because no SAN path answers (its index
  is there) counts as failed too (``san unreachable``);
- **SELECT** (POP3: STAT): a command, and ``metadata_ops`` I/O operations on the SAN (the mailbox's
  index and header files live there, seed §2);
- **FETCH** of what came since the user last fetched (POP3: RETR): a command, the store's CPU per KB, and
  one read from the RAID array per message plus its transfer;
- while the session stays open (``session``), a protocol with ``idle`` is told of every new message
  (Cyrus's idled) and fetches it at once;
- at its end the user has deleted a share ``delete`` of what was fetched: STORE and EXPUNGE (the
  messages' files are unlinked, one RAID operation each, and the index rewritten on the SAN), and the
  mailbox's usage falls. A user whose mailbox is at its quota when logging in may clean it up
  (``cleanup``) in the same way.

Every command's latency (from the client's request to its reply, round trip included) goes into a
histogram per protocol; the report compares its percentiles with the quality target. A command whose
store failed meanwhile ends the session (``sessions_cut``): the client logs in again on its next
session. What is not modelled: the web cluster that runs Horde (seed §6: the webmasters' machines, not
the mail platform's), folders besides INBOX, flags other than deletion, and the replica's own copy of
what users delete (one mailbox population serves both stores).
"""

from __future__ import annotations

from collections.abc import Generator

from twin.scenario.distributions import total
from twin.sim.alarms import Alarms
from twin.sim.histogram import Latencies
from twin.sim.light import start_at

ROUND_TRIPS_LOGIN = 3  # est: the server's greeting, the TLS handshake, the login itself
REASONS = (
    "balancer",
    "store unreachable",
    "kdc unreachable",
    "ldap unreachable",
    "connection lost",
    "san unreachable",
)


class Protocol:
    """One protocol's settings and figures; its commands' latencies while the store's nightly backup
    runs and otherwise (``during`` / ``outside``)."""

    def __init__(self, name: str, spec, within: float):
        self.name = name
        self.spec = spec
        self.idle = spec.idle
        self.delete = spec.delete
        self.logins = 0
        self.failures = dict.fromkeys(REASONS, 0)
        self.sessions = 0
        self.cut = 0
        self.fetched = 0
        self.deleted = 0
        self.cleanups = 0
        self.outside, self.during = Latencies(within), Latencies(within)

    def took(self, latency: float, backup: bool) -> None:
        (self.during if backup else self.outside).took(latency)

    def results(self) -> dict:
        h = Latencies.merged((self.outside, self.during))
        late = self.outside.late + self.during.late
        return {
            "logins": self.logins,
            "login_failures": sum(self.failures.values()),
            "failures": {k: v for k, v in self.failures.items() if v},
            "sessions": self.sessions,
            "sessions_cut": self.cut,
            "messages_fetched": self.fetched,
            "messages_deleted": self.deleted,
            "cleanups": self.cleanups,
            "commands": h.summary(),
            "commands_within_target": (1 - late / h.n) if h.n else None,
            "commands_during_backup": self.during.summary(),
            "commands_outside_backup": self.outside.summary(),
        }


class Session:
    """An open session waiting for new mail (IDLE): the store calls ``new_mail``."""

    __slots__ = ("access", "boot", "box", "fetched", "fetched_bytes", "fetching", "protocol", "store")

    def __init__(self, access, protocol, store, box):
        self.access, self.protocol, self.store, self.box = access, protocol, store, box
        self.boot = store.boot
        self.fetching = False
        self.fetched = 0  # messages fetched since the session's first FETCH
        self.fetched_bytes = 0.0  # and their bytes

    def new_mail(self) -> None:
        if not self.fetching:  # one fetch at a time reads everything new
            self.fetching = True
            self.access.start_fetch(self)


class MailAccess:
    """The users' sessions at the store group's address (the current primary), through the balancer."""

    name = "clients"

    def __init__(self, ctx, spec, stores, balancer, kdc, ldap):
        self.env = ctx.env
        self.address = stores  # the store group: connect() reaches the primary
        self.balancer = balancer  # the BalancerPair, or None
        self.kdc, self.ldap = kdc, ldap
        self.boxes = ctx.mailboxes
        self.rtt = 2 * spec.client_latency
        self.retry = spec.retry
        self.cleanup = spec.cleanup
        within = ctx.scenario.outputs.quality.command_within
        self.protocols = [Protocol(name, p, within) for name, p in spec.protocols.items()]
        self.watching: dict[int, Session] = {}
        for store in _stores(stores):
            store.watching = self.watching
        self._deletes = ctx.streams.generator("workload.clients.deletes")
        self.alarms = Alarms(ctx.env)  # the open sessions' ends

    # -- a session ------------------------------------------------------------------------------------------

    def session(self, p: Protocol, box: int, kerberos: bool, length: float) -> Generator[float, None, None]:
        """One user's session on mailbox ``box``: logs in (again after ``retry`` while the session would
        last, if that fails), reads what is new, stays open ``length`` seconds, deletes and logs out."""
        env = self.env
        until = env.now + length
        while True:
            store = yield from self._login(p, kerberos)
            if store is not None:
                if store.san is None or store.san.connect() is not None:
                    break
                self._failed(p, "san unreachable")  # SELECT: the mailbox's index is on the SAN (NO)
            if env.now + self.retry > until:
                return
            yield self.retry
        p.sessions += 1
        store.sessions_open += 1
        yield from self._read(p, store, box, until)

    def _read(self, p: Protocol, store, box: int, until: float) -> Generator[float, None, None]:
        """SELECT and the FETCH of what is new, as one exchange; then the session stays open (told of new
        mail with IDLE) until ``until``, out of SimPy's queue (``Alarms``), and closes (``_close``)."""
        env, boxes = self.env, self.boxes
        boot, now = store.boot, env.now
        n, size = boxes.fresh[box], boxes.fresh_bytes[box]
        boxes.fresh[box], boxes.fresh_bytes[box] = 0, 0.0
        done = self._exchange(store, 2 if n else 1, reads=n, kb=size / 1024, san=True)
        session = None
        if p.idle and until > done and box not in self.watching:
            session = self.watching[box] = Session(self, p, store, box)
        if done >= store.next_down:  # a failure is planned before the reply: wait and see
            yield done - now
            if store.boot != boot:
                boxes.fresh[box] += n  # not read after all
                boxes.fresh_bytes[box] += size
                self._closed(p, store, box, session, cut=True)
                return
        p.took(done - now, store.backing_up)
        p.fetched += n
        wake = until if until > done else done
        if wake > env.now:
            self.alarms.at(wake, lambda: self._close(p, store, box, boot, n, size, session))
        else:
            yield from self._close(p, store, box, boot, n, size, session)

    def _close(
        self, p: Protocol, store, box: int, boot: int, fetched: int, fetched_bytes: float, session
    ) -> Generator[float, None, None]:
        """The end of a session: STORE and EXPUNGE of what the user deleted and of a cleanup (one
        exchange), and LOGOUT. What the user deletes of what was read goes at the size of what was read
        (mail read in a session is not of the mailbox's mean size: new ham is larger, spam smaller)."""
        env, boxes = self.env, self.boxes
        if session is not None:
            fetched += session.fetched
            fetched_bytes += session.fetched_bytes
        if store.boot != boot:
            self._closed(p, store, box, session, cut=True)
            return
        self._closed(p, store, box, session)
        k = int(fetched * p.delete + float(self._deletes.random())) if p.delete > 0 and fetched else 0
        cleanup = self.cleanup
        full = cleanup is not None and boxes.usage[box] >= boxes.quota_of[box]
        cleaned = full and float(self._deletes.random()) < cleanup.share  # the quota warning is read
        if cleaned:  # old mail goes: the deletions take the oldest messages
            p.cleanups += 1
            surplus = 1 - boxes.quota_of[box] * cleanup.to / boxes.usage[box]
            k = max(k, round(boxes.messages[box] * surplus))
        k = min(k, boxes.messages[box])
        if k <= 0:
            return
        now = env.now
        done = self._exchange(store, 2, unlinks=k, san=True)
        if done >= store.next_down:
            yield done - now
            if store.boot != boot:
                p.cut += 1
                return
        p.took(done - now, store.backing_up)
        k = min(k, boxes.messages[box])  # another session may have expunged some meanwhile
        if k > 0:
            boxes.delete(box, k, oldest=cleaned, size=None if cleaned else fetched_bytes / fetched)
            p.deleted += k

    def _closed(self, p: Protocol, store, box: int, session, cut: bool = False) -> None:
        """The session is no longer open (it logs out, or its store failed: ``cut``)."""
        store.sessions_open -= 1
        if cut:
            p.cut += 1
        if session is not None and self.watching.get(box) is session:
            del self.watching[box]

    def start_fetch(self, session: Session) -> None:
        """New mail for an open IDLE session: the client fetches it one round trip later."""
        start_at(self.env, self._idle_fetch(session), self.rtt)

    def _idle_fetch(self, session: Session) -> Generator[float, None, None]:
        session.fetching = False
        store, boxes, box = session.store, self.boxes, session.box
        if store.boot != session.boot or self.watching.get(box) is not session:
            return
        n, size = boxes.fresh[box], boxes.fresh_bytes[box]
        if not n:
            return
        boxes.fresh[box], boxes.fresh_bytes[box] = 0, 0.0
        now = self.env.now
        done = self._exchange(store, 1, reads=n, kb=size / 1024)
        if done >= store.next_down:
            yield done - now
            if store.boot != session.boot:
                boxes.fresh[box] += n
                boxes.fresh_bytes[box] += size
                return
        session.protocol.took(done - now, store.backing_up)
        session.protocol.fetched += n
        session.fetched += n
        session.fetched_bytes += size

    # -- the commands ---------------------------------------------------------------------------------------

    def _login(self, p: Protocol, kerberos: bool) -> Generator[float, None, object]:
        env = self.env
        p.logins += 1
        if self.balancer is not None and not self.balancer.available:
            return self._failed(p, "balancer")
        store = self.address.connect()
        if store is None:
            return self._failed(p, "store unreachable")
        group, reason = (self.kdc, "kdc unreachable") if kerberos else (self.ldap, "ldap unreachable")
        now = t = env.now
        node = None
        if group is not None:
            node = group.connect()
            if node is None:
                return self._failed(p, reason)
            if node.station is not None:
                t = node.station.assign(node.service_time())
        done = t
        if store.station is not None and store.login_cpu is not None:
            done = store.station.assign_after(store.login_cpu(), t)
        done += self.rtt * ROUND_TRIPS_LOGIN
        boot, node_boot = store.boot, node.boot if node is not None else 0
        yield done - now
        if store.boot != boot or (node is not None and node.boot != node_boot):
            return self._failed(p, "connection lost")
        p.took(done - now, store.backing_up)
        return store

    def _failed(self, p: Protocol, reason: str) -> None:
        p.failures[reason] += 1
        return None

    def _exchange(self, store, commands: int, reads=0, kb=0.0, unlinks=0, san=False) -> float:
        """Book ``commands`` commands the client sends one after the other (their round trips counted):
        the store's CPU, ``reads`` message files and ``kb`` KB from the RAID array (or ``unlinks`` files
        removed), the mailbox's metadata on the SAN if ``san``, side by side. Returns when the last reply
        reaches the client."""
        done = self.env.now
        if store.station is not None and store.command_cpu is not None:
            done = store.station.assign(total(store.command_cpu, commands) + kb * store.access_per_kb)
        ops = reads + unlinks
        if ops and store.disk is not None:
            end = store.disk.assign_sequence(store.disk_io(ops, kb), ops)
            if end > done:
                done = end
        if san and store.access_metadata_ops and store.san is not None:
            node = store.san.connect()
            if node is not None and node.station is not None:
                end = node.station.assign(node.service_time() * store.access_metadata_ops)
                if end > done:
                    done = end
        return done + self.rtt * commands

    # -- figures --------------------------------------------------------------------------------------------

    def results(self) -> dict[str, dict]:
        return {"clients": {p.name: p.results() for p in self.protocols}}


def _stores(group) -> list:
    """The store group's members and the replica that can take its address."""
    out = list(group.members)
    for m in group.members:
        replica = m.peer("replica")
        if replica is not None:
            out.extend(r for r in replica.members if r not in out)
    return out
