"""Messages and their paths: the remote sender's side (``journey``: offer, and retry after a temporary
refusal) and the generic path through stations and classes (``through``: pick an instance, be served, be
routed, until a terminal state). Recipients of a message travel together. Both run as light processes
(``twin/sim/light.py``).

A message first travels inside the remote sender's SMTP transaction. If a hop finds no instance up, the
transaction fails with a temporary error and the remote sender decides (retry on its schedule, or give
up: ``expired_at_sender``); ``attempts`` counts the sender's tries. Once a component that spools mail
(a frontend) has handled the message, a hop into a *delivery* group (the store; the Internet) ends the
transaction: the frontend accepts the message and delivers it from its spool under Exim's retry rules
(``components/frontend.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

import simpy

from twin.sim.headers import GENERATED
from twin.sim.ledger import NO_MAILBOX, STATE_CODE, Ledger

if TYPE_CHECKING:  # the kernel knows components and senders only by what it calls on them
    from twin.components.base import Component, Group
    from twin.sim.senders import RemoteSenders

# Where a recipient goes (``Message.domains``; a remote domain is its number >= 0) and who sent a message
# (``Message.sender``; a local sender is a mailbox number >= 0).
LOCAL = -1  # a recipient with a mailbox here (LMTP to the store)
SUBDOMAIN = -2  # a recipient at a subdomain with its own server (seed §4), reached by the internal route
OUTSIDE = NO_MAILBOX  # a sender outside (its bounces go to a remote domain), or <>
SYSTEM = -2  # a downstream university system behind the relay (seed §5): its bounces go back to it
# a list address at the list server (a post's recipient), and the list's bounce address (its copies'
# sender: their bounces go back to Mailman)
LISTS = -3

DELIVERED = STATE_CODE["delivered"]
LOST = STATE_CODE["lost"]
EXPIRED_AT_SENDER = STATE_CODE["expired_at_sender"]
AT_SENDER = 0  # node code of "(sender)"

# One try of a sender: a generator returning None when the platform took or finally refused the message,
# else the ledger stage code of the temporary refusal.
Attempt = Callable[..., Generator[float, None, int | None]]
MessagePath = Generator[float, None, object]  # a message's path, run as a light process


class Message:
    """A message's envelope: its id, its recipients' ledger rows ``r0`` .. ``r0 + n - 1``, its size, and
    ``boxes``, each recipient's mailbox number in row order (``NO_MAILBOX`` for an address without one).

    Where it goes and who sent it: ``domains`` (None: every recipient is local) gives each recipient's
    route in row order: ``LOCAL``, ``SUBDOMAIN`` or a remote domain's number; ``sender`` is the mailbox of a
    local sender, to whom bounces and delay warnings go by LMTP, or ``OUTSIDE`` (also ``<>``) or
    ``SYSTEM``; ``unknown`` holds the rows of remote recipients their server does not know (None: none)."""

    __slots__ = ("boxes", "domains", "headers", "id", "n", "r0", "sender", "size", "unknown")

    def __init__(
        self,
        msg_id: int,
        r0: int,
        n: int,
        size: int,
        boxes: list[int] | None = None,
        domains: list[int] | None = None,
        sender: int = NO_MAILBOX,
    ):
        self.id = msg_id
        self.r0 = r0
        self.n = n
        self.size = size
        self.boxes = boxes if boxes is not None else [NO_MAILBOX] * n
        self.domains = domains
        self.sender = sender
        self.unknown = None
        self.headers = GENERATED  # written by the platform itself, from <> (``sim/headers.py``)

    @property
    def rows(self) -> list[int]:
        return [self.r0] if self.n == 1 else list(range(self.r0, self.r0 + self.n))

    @property
    def live(self) -> list[int] | None:
        return None  # every recipient is still in the sender's transaction


class Mail(Message):
    """A message with what the stages of docs/platform.md §3.1 look at, drawn by the workload: inbound from
    the Internet, or sent from inside (``kerberos``: the user's client logs in with Kerberos, False: with
    a password, an LDAP bind; None: no login, inbound mail or a downstream system through the relay).

    ``live`` lists the ledger rows of recipients still in the sender's transaction (None: all of them);
    recipients refused at RCPT leave it, so a sender's retry offers only the others.
    """

    __slots__ = ("attachment", "bad_sender", "blocklisted", "kerberos", "live", "spam", "spooled", "virus")

    def __init__(
        self, msg_id, r0, n, size, boxes, blocklisted, bad_sender, spam, virus, attachment, headers=0
    ):
        # Message's fields set here rather than through super().__init__: one call less per message.
        self.id = msg_id
        self.r0 = r0
        self.n = n
        self.size = size
        self.boxes = boxes
        self.domains = None
        self.sender = NO_MAILBOX
        self.unknown = None
        self.headers = headers  # the header fields scripts test, and the sender (``sim/headers.py``)
        self.kerberos = None
        self.blocklisted = blocklisted
        self.bad_sender = bad_sender
        self.spam = spam  # PureMessage probability, percent
        self.virus = virus
        self.attachment = attachment  # its attachment's file name, "" for none (``sim/attachments.py``)
        self.live = None
        self.spooled = (
            None  # accepted onto a frontend's spool: the parts whose immediate delivery run is to come
        )


class Released(Mail):
    """A quarantined message a user asked for (``components/quarantine.py``): the store delivers it like
    any other, and its row ends at stage ``quarantine release``."""

    __slots__ = ()


class Post(Mail):
    """A post to mailing list number ``list`` (``components/mailman.py``): its one recipient is the list's
    address (route ``LISTS``)."""

    __slots__ = ("list",)


class Notice(Message):
    """A bounce to a list's bounce address: ``about`` is the copy it reports on and the rows of the members
    that failed, which Mailman's bounce processing reads (Exim's bounce lists the failed addresses)."""

    __slots__ = ("about",)

    def __init__(self, msg_id, r0, n, size, boxes=None, about=None):
        super().__init__(msg_id, r0, n, size, boxes)
        self.about = about


def journey(
    env: simpy.Environment,
    ledger: Ledger,
    msg: Message,
    attempt: Attempt,
    senders: RemoteSenders,
    opened: object = None,
    received: float | None = None,
    counted: bool = False,
) -> MessagePath:
    """The remote sender's side: offer ``msg`` with ``attempt(msg, opened)`` and retry on a temporary
    refusal. ``opened``: the caller began the first try already (counted it, and passes it on).
    ``received``: when the sender's queue got the message (default now). ``counted``: the ledger counts
    the first try already (``Ledger.offer_many``)."""
    r0, n = msg.r0, msg.n
    if received is None:
        received = env.now
    key = None  # the sender's retry record, made only if the platform refuses the message
    retrying = None
    while True:
        if opened is None:
            live = getattr(msg, "live", None)
            if counted:
                counted = False
            elif live is None:
                ledger.attempt(r0, n)
            else:  # the recipients refused at RCPT are final, maybe written to disk: not tried again
                ledger.attempt_rows(live)
            stage = yield from attempt(msg)
        else:
            stage = yield from attempt(msg, opened)
            opened = None
        if stage is None:
            if retrying:
                senders.db.succeeded(key)
            return
        if retrying is None:
            key = ("message", r0)
            retrying = senders.will_retry()
        if not retrying or senders.db.failed(key, env.now, received):
            senders.db.succeeded(key)  # the remote queue drops the message; forget its record
            ledger.finish_message(r0, n, msg.live, env.now, EXPIRED_AT_SENDER, stage, AT_SENDER)
            return
        ledger.locate_message(r0, n, msg.live, AT_SENDER, stage)
        yield senders.db.records[key].next_try - env.now


def entry_into(env: simpy.Environment, ledger: Ledger, group: Group) -> Attempt:
    """The try of a sender whose messages enter ``group`` (a class or a generic station)."""

    def attempt(msg: Message, opened=None):
        return through(env, ledger, msg, group)

    return attempt


def deliver(
    env: simpy.Environment, ledger: Ledger, msg: Message, group: Group, target: Component
) -> MessagePath:
    """A delivery from a frontend's spool that has connected to ``target`` (an instance of ``group``);
    returns the state the message's first recipient ended in (or pending)."""
    yield from through(env, ledger, msg, group, first=target, accepted=True)
    return ledger.state_of(msg.r0)


def through(
    env: simpy.Environment,
    ledger: Ledger,
    msg: Message,
    group: Group,
    first: Component | None = None,
    accepted: bool = False,
) -> MessagePath:
    """One pass; returns None when the message reached a terminal state or a frontend accepted it, else
    the stage code of the group that refused (or whose instance failed while serving it).

    An instance that fails while serving the message gives no answer: before anyone accepted the message
    the sender's try fails (it retries); after, the message was in that instance's hands and is ``lost``
    there (a generic station keeps nothing on disk; the frontends' spools do, and are not on this path)."""
    r0, n = msg.r0, msg.n
    mta = None
    while True:
        if group.delivery and mta is not None:
            ledger.accept(r0, n, env.now)  # the 250 after DATA: from here the frontend is responsible
            mta.enqueue(msg, group)
            return None
        comp = first if first is not None else group.connect()
        first = None
        if comp is None:
            if accepted:
                ledger.accept(r0, n, math.nan)  # the transaction failed: nothing was accepted after all
            return group.stage
        if comp.spools_mail:
            mta = comp
        ledger.locate(r0, n, comp.code, comp.stage)
        station = comp.station
        if station is not None:
            boot = comp.boot
            yield from station.serve(comp.service_time())
            if comp.boot != boot:
                if not accepted:
                    return group.stage
                ledger.finish(r0, n, env.now, LOST, comp.stage, comp.code)
                return None
        hop = comp.next_hop()
        if hop.__class__ is int:
            if hop == DELIVERED and not accepted:
                ledger.accept(r0, n, env.now)
            ledger.finish(r0, n, env.now, hop, comp.stage, comp.code)
            return None
        if not accepted and mta is None:
            # Without a frontend on the path, the first component takes responsibility by passing it on.
            ledger.accept(r0, n, env.now)
            accepted = True
        group = hop
