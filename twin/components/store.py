"""The Cyrus IMAP primary: LMTP delivery into mailboxes (seed §1-3; docs/platform.md §3.2 stages 10-11,
§A).

One LMTP session per message from a frontend's spool costs CPU (``demand`` plus ``demand_per_kb``), a
write to the store's RAID array (``disk``) and ``metadata_ops`` I/O operations on the SAN (index, cache
and quota files), side by side: the replies come when all three are done. Each recipient gets its own
reply, as in Cyrus's ``lmtpengine.c`` (checks at RCPT):
- no mailbox: ``550 5.1.1`` (permanent; the frontend bounces it);
- mailbox at or over its quota: ``452 4.2.2`` (temporary; the frontend's per-address retry rules apply),
  or ``552`` with ``over_quota_perm_failure``. A mailbox below its quota takes the message even if it
  ends up over (one message may push it over; the next is refused);
- the mailbox metadata on the SAN cannot be reached (every SAN instance down, or the one used failed
  during the write): ``451 4.3.0`` (temporary, per recipient, like an I/O error in Cyrus);
- otherwise ``250``: the message is in the mailbox and the mailbox grows by its size.

A session whose store or frontend fails before the replies is not acknowledged: nothing is delivered,
the message stays on the frontend's spool.

The users' IMAP, POP and webmail sessions (``access.py``) cost it CPU (``login_cpu``, ``command_cpu``,
``access_per_kb``), RAID operations and SAN metadata per command, from ``access`` in its scenario class;
each message it takes is counted in its mailbox's files and new mail, and an IDLE session open on that
mailbox (``watching``) is told.

The time of each LMTP exchange (CPU, disk and SAN side by side, as booked when the session starts) goes into a
histogram, one while the nightly backup reads the store's disks (``backing_up``, ``backup.py``) and one
otherwise (``lmtp_latency`` in kpis.json).

Every delivery (its recipients with a 250) enters the replication log that ``sync_client`` replays to the
replica, and the primary and the replica swap roles in a switch-over (``replica.py``). A mailbox with a
Sieve script runs it once the message is taken (stage 12, ``filters.py``): its row may end ``discarded`` or
``redirected`` instead, and a discarded or redirected message takes no room in the mailbox.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import ClassVar

from twin.components.base import Component
from twin.components.mailboxes import MISSING
from twin.components.server import Server, filling
from twin.scenario.distributions import batched, total
from twin.sim.flow import Message, Released
from twin.sim.histogram import Latencies
from twin.sim.ledger import STATE_CODE

DELIVERED = STATE_CODE["delivered"]


class Store(Server):
    OUTAGE = "LMTP connections fail: accepted mail waits on the frontends' spools (host retry record)"
    GAUGES = (
        "replication_backlog_messages",
        "replication_backlog_bytes",
        "replication_backlog_age_s",
        "sessions_open",
        "mailbox_bytes",
    )
    protocol = "lmtp"
    REASONS: ClassVar[dict[str, str]] = {
        "550": "550 5.1.1 mailbox unknown",
        "552": "552 5.2.2 over quota",
    }  # the bounce's ledger stage

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.perm_over_quota = spec.over_quota_perm_failure
        self.metadata_ops = spec.metadata_ops
        self.replies = {"250": 0, "451": 0, "452": 0, "550": 0, "552": 0}
        self.mailboxes = ctx.mailboxes
        self.ledger = ctx.ledger
        self.filters = ctx.filters
        self._released = ctx.ledger.stages.code("quarantine release")
        self.script_of = ctx.filters.mailboxes.script_of if ctx.filters is not None else None
        self.san = None
        self.replication = None  # the pair's Replication (replica.py), set when the service is built
        self.empty = False  # came back from a loss: holds no mailboxes until copied from the other store
        # The users' sessions (components/access.py): what their commands cost, the sessions open now, and
        # mailbox -> the session open on it that waits for new mail (IMAP IDLE).
        self.watching: dict = {}
        self.sessions_open = 0
        # The nightly backup (components/backup.py) reads this store's disks while ``backing_up``; the LMTP
        # exchanges' times (from the frontend's request to the replies) outside it and during it.
        self.backing_up = False
        self.lmtp_latency = (Latencies(), Latencies())
        access, speed = spec.access, attrs["speed"] or 1.0
        self.login_cpu = self.command_cpu = None
        self.access_per_kb, self.access_metadata_ops = 0.0, 0
        if access is not None:
            self.login_cpu = _cpu(access.login, ctx.streams.generator(f"{name}.access.login"), speed)
            self.command_cpu = _cpu(access.command, ctx.streams.generator(f"{name}.access.command"), speed)
            self.access_per_kb = access.per_kb / speed
            self.access_metadata_ops = access.metadata_ops

    def start(self) -> None:
        self.san = self.needs.get("san")

    def went_down(self) -> None:
        super().went_down()
        if self.replication is not None:
            self.replication.went_down(self)

    def came_up(self) -> None:
        super().came_up()
        if self.replication is not None:
            self.replication.came_up(self)

    def lose_data(self) -> int:
        """Its disks are gone: what it acknowledged and had not replicated is lost (``Replication``)."""
        self.empty = True
        return self.replication.lost(self) if self.replication is not None else 0

    def lmtp(
        self, msg: Message, rows: list[int], client: Component
    ) -> Generator[float, None, tuple[list[int], list[tuple[int, str]], bool] | None]:
        """Deliver ``msg`` from ``client`` (a frontend) to the recipients in ``rows``; a generator returning
        (temporary rows, permanent [(row, reply code)], whether the store was unavailable: 451 to all), or
        None if the session was cut (this store or the client failed before the replies)."""
        env = self.env
        boot, client_boot = self.boot, client.boot
        san = self.san
        node = None
        if san is not None:
            node = san.connect()
            if node is None:  # the mailbox metadata lives on the SAN (seed §2)
                return self._unavailable(rows), [], True
        # lmtpd parses and indexes the message (CPU) while it writes the message file to the RAID array and
        # the metadata to the SAN: the three go on side by side, and the replies come when all are done.
        now = done = env.now
        if self.station is not None:
            done = self.station.assign(self.work(msg.size), now)
        if self.disk is not None:
            disk_end = self.disk.assign(self.disk_time(msg.size), now)
            if disk_end > done:
                done = disk_end
        san_boot = node.boot if node is not None else 0
        if self.metadata_ops and node is not None and node.station is not None:
            san_end = node.station.assign(node.service_time() * self.metadata_ops, now)
            if san_end > done:
                done = san_end
        self.lmtp_latency[self.backing_up].took(done - now)
        if done > now:
            yield done - now
            now = done
        if self.boot != boot or client.boot != client_boot:
            return None
        if node is not None and node.boot != san_boot:
            return self._unavailable(rows), [], True
        boxes = self.mailboxes
        ledger = self.ledger
        status, usage, quota = boxes.status_of, boxes.usage, boxes.quota_of
        temporary, permanent = [], []
        replies = self.replies
        boxes, r0 = msg.boxes, msg.r0
        delivered = []
        script_of = self.script_of
        stage = self.stage if msg.__class__ is not Released else self._released
        for r in rows:
            box = boxes[r - r0]
            if box >= 0:
                if status[box] == MISSING:
                    permanent.append((r, "550"))
                    replies["550"] += 1
                    continue
                if usage[box] >= quota[box]:
                    if self.perm_over_quota:
                        permanent.append((r, "552"))
                        replies["552"] += 1
                    else:
                        temporary.append(r)
                        replies["452"] += 1
                    continue
                replies["250"] += 1
                if script_of is not None and script_of[box] >= 0:  # stage 12: the mailbox's Sieve script
                    state, stage, stored = self.filters.run(msg, r, box, script_of[box], now, client)
                    ledger.finish(r, 1, now, state, stage, self.code)
                    if stored:
                        self._stored(box, msg.size)
                        delivered.append(r)
                    continue
                self._stored(box, msg.size)
            else:
                replies["250"] += 1
            ledger.finish(r, 1, now, DELIVERED, stage, self.code)
            delivered.append(r)
        if delivered and self.replication is not None:
            self.replication.acknowledged(self, msg, delivered, now)
        return temporary, permanent, False

    def _stored(self, box: int, size: int) -> None:
        """A message of ``size`` bytes is in mailbox ``box``: a session open on it hears of it (IDLE)."""
        boxes = self.mailboxes
        boxes.usage[box] += size
        boxes.usage_total += size
        boxes.messages[box] += 1
        boxes.fresh[box] += 1
        boxes.fresh_bytes[box] += size
        if box in self.watching:
            self.watching[box].new_mail()

    def apply(self, sizes, recipients: int, now: float) -> float:
        """Replay deliveries of ``sizes`` bytes to ``recipients`` mailboxes in all (a slice of the
        replication log) as the target of replication, as sync_server does: one stream of work on one CPU
        and one disk at a time, and the metadata on the SAN. Returns when the slice is applied."""
        done, n, kb = now, len(sizes), sum(sizes) / 1024
        if self.station is not None:  # n draws of the demand, taken in C, and the work per KB
            cpu = total(self.service_time, n) + kb * self.per_kb
            done = self.station.assign(cpu, now)
        if self.disk is not None:
            io = self.disk_io(n, kb)
            done = max(done, self.disk.assign(io, now))
        node = self.san.connect() if self.san is not None else None
        if self.metadata_ops and node is not None and node.station is not None:
            ops = self.metadata_ops * recipients
            done = max(done, node.station.assign(node.service_time() * ops, now))
        return done

    def gauges(self) -> tuple[float, ...]:
        held = 0 if self.empty else int(self.mailboxes.usage_total)
        if self.replication is None:
            return 0, 0, 0, self.sessions_open, held
        return (*self.replication.backlog_of(self), self.sessions_open, held)

    def _unavailable(self, rows: list[int]) -> list[int]:
        self.replies["451"] += len(rows)
        return list(rows)

    def results(self) -> dict[str, dict]:
        outside, during = self.lmtp_latency
        storage = {}
        if self.disk is not None and self.mailboxes.count:  # the array holds the mailboxes' message files
            boxes = self.mailboxes
            used = 0.0 if self.empty else boxes.usage_total
            start = float(boxes.usage_at_start.sum())
            storage = {"storage": filling(self.spec.disk.capacity, start, used, self.env.now)}
        return {
            **super().results(),
            **storage,
            "lmtp_replies": dict(self.replies),
            "lmtp_latency": {
                "all": Latencies.merged(self.lmtp_latency).summary(),
                "outside_backup": outside.summary(),
                "during_backup": during.summary(),
            },
        }


def _cpu(dist, rng, speed: float):
    """A sampler of CPU-seconds on this machine from ``dist`` (on the reference core)."""
    draw = dist.draw_fn(rng)
    return batched(lambda n: draw(n) / speed)
