"""The Cyrus replica and the rolling replication between the two stores (seed §2; docs/platform.md §A,
docs/failover.md).

Cyrus 2.3 rolling replication: every change the serving store (the *active*, at first the primary)
acknowledges is written to a log, and ``sync_client -r`` replays the log to the other store (the
*standby*) in runs, one after another, waiting between two runs (its ``-d`` delay plus reading the
log; ``replica.sync_interval``). The twin logs each delivery (the recipients that got a 250) and, in each
run, replays what the log holds in slices: the standby applies a slice on its CPU and disk and writes the
metadata to the SAN (``Store.apply``), and the link carries the bytes; the slice is replicated when the
slowest of these is done. A run needs both stores up, the standby's copy complete and its SAN reachable;
otherwise the log grows (the backlog) and the next run catches up. The lag of a message is the time from
its 250 to the end of the slice that carried it.

What the primary acknowledged and had not replicated is at risk when it fails (RPO):
- ``outage``: the primary comes back with its disks; if nobody switched over meanwhile, replication simply
  resumes; if the replica had been promoted, the stranded entries are replayed to it when the old
  primary is back (resynchronised), so nothing is lost;
- ``loss``: its disks are gone: every recipient of the unreplicated entries ends ``lost`` (stage
  ``unreplicated``, at the primary), and the store comes back empty: it takes replication again only
  after ``full_resync``. When both stores lost their data, the one that serves is restored from the
  nightly backup first (``backup.py``: the backup's size at its ``restore_rate``) and serves after that.

Failover is manual (seed §2): ``switchover`` after the primary fails, if it is still down, the replica
serves LMTP as the new primary: the store address the frontends deliver to is handed over and their
spools drain into it under Exim's retry rules. Until then LMTP defers. With ``failback``, once the old
primary is back and has caught up, the roles are switched back, which costs another ``switchover`` of
deferred LMTP; without it they stay swapped. A store that is down, empty or a standby does not take LMTP.

Not modelled: sync_client's own CPU on the active store, flags, seen state and expunges (the log holds
deliveries only), split brain (nothing is delivered to both stores).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

import numpy as np

from twin.components.store import Store
from twin.sim.ledger import STATE_CODE

LOST = STATE_CODE["lost"]
SLICE = 2000  # log entries a replication run replays at once (the backlog gauge moves in these steps)


class Replica(Store):
    """The second Cyrus store: the target of replication, and the primary after a switch-over."""

    SERVICE = None  # the pair's Replication is built once, for the store group
    OUTAGE = (
        "replication stops: the primary's log grows (the backlog) and the next sync_client run catches up "
        "when it is back; if it serves as the primary, LMTP fails as for the store"
    )


class ReplicationLog:
    """What a store acknowledged and has not replicated, oldest first: per entry (a delivery) its time,
    size and recipients (ledger rows and mailboxes), in flat arrays: no Python object per entry (a long
    replica outage leaves hundreds of thousands of them), and one call per delivery on the hot path."""

    def __init__(self):
        self.t = array("d")
        self.size = array("q")
        self.count = array("q")  # recipients of each entry
        self.rows = array("q")
        self.boxes = array("q")
        self.head = 0  # the first entry still in the log
        self.row_head = 0  # ... and its first recipient
        self.bytes = 0

    def __len__(self) -> int:
        return len(self.t) - self.head

    def append(self, t: float, msg, rows: list[int]) -> int:
        """A delivery of ``msg`` to ``rows`` at ``t``; returns the entries now in the log."""
        self.t.append(t)
        self.size.append(msg.size)
        self.bytes += msg.size
        boxes, r0 = msg.boxes, msg.r0
        if len(rows) == 1:  # most mail: one recipient, no list made
            r = rows[0]
            self.count.append(1)
            self.rows.append(r)
            self.boxes.append(boxes[r - r0] if boxes is not None else -1)
        else:
            self.count.append(len(rows))
            self.rows.extend(rows)
            self.boxes.extend([boxes[r - r0] for r in rows] if boxes is not None else [-1] * len(rows))
        return len(self.t) - self.head

    def oldest(self) -> float:
        return self.t[self.head]

    @property
    def recipients(self) -> int:
        return len(self.rows) - self.row_head

    def first(self, k: int) -> tuple[array, array, int]:
        """The times and sizes of the first ``k`` entries, and their recipients."""
        a, b = self.head, self.head + k
        return self.t[a:b], self.size[a:b], sum(self.count[a:b])

    def drop(self, k: int) -> None:
        """The first ``k`` entries are replicated."""
        a, b = self.head, self.head + k
        self.row_head += sum(self.count[a:b])
        self.bytes -= sum(self.size[a:b])
        self.head = b
        if self.head > 4096 and 2 * self.head > len(self.t):  # forget what was dropped
            for name in ("t", "size", "count"):
                setattr(self, name, getattr(self, name)[self.head :])
            self.rows, self.boxes = self.rows[self.row_head :], self.boxes[self.row_head :]
            self.head = self.row_head = 0

    def entries(self):
        """(size, rows, mailboxes) of each entry, oldest first."""
        r = self.row_head
        for i in range(self.head, len(self.t)):
            n = self.count[i]
            yield self.size[i], self.rows[r : r + n], self.boxes[r : r + n]
            r += n


@dataclass
class Failure:
    """A failure of the serving store, for the incident figures."""

    node: str
    t: float
    rpo_messages: int
    rpo_s: float | None
    rto_s: float | None = None
    lost: int = 0


class Replication:
    """The pair of stores and the log between them (``Store.SERVICE``: built once for the store group,
    whose address the frontends deliver to)."""

    name = "replication"

    def __init__(self, ctx, group):
        self.env = ctx.env
        self.ledger = ctx.ledger
        self.mailboxes = ctx.mailboxes
        self.address = group
        self.active: Store = group.members[0]
        self.primary = self.active  # the store that served first: where a failback returns to
        replicas = self.active.peer("replica")
        self.standby: Store | None = replicas.members[0] if replicas is not None else None
        spec = self.standby.spec if self.standby is not None else None
        self.feeds = spec is not None and spec.sync_interval is not None
        self.switchover = spec.switchover if spec is not None else None
        self.failback = bool(spec is not None and spec.failback)
        self.full_resync = spec.full_resync if spec is not None else 0.0
        self.link_rate = spec.link_rate if spec is not None else math.inf
        self.log = ReplicationLog()  # on the active store
        self.stranded = ReplicationLog()  # entries of a failed active, replayed when it is back
        self.stranded_on: Store | None = None
        self.ready_at = 0.0  # the standby's copy is complete from then on (after a full resync)
        self.failures: list[Failure] = []
        self._waiting_rto: list[Failure] = []
        self._lags: list[np.ndarray] = []
        self.backlog_peak = 0
        self.replicated = 0
        self.recovered = 0
        self.lost_recipients = 0
        self.switchovers = 0
        self.failbacks = 0
        self._switching = False
        self._refilling: set[str] = set()  # stores that came back empty and serve once copied again
        self._unreplicated = ctx.ledger.stages.code("unreplicated")
        for store in (self.active, self.standby):
            if store is not None:
                store.replication = self
        if self.feeds:
            self.interval = ctx.streams.sampler(f"{self.standby.name}.sync_interval", spec.sync_interval)
            self.env.process(self._sync_client())

    # -- the log --------------------------------------------------------------------------------------------

    def acknowledged(self, store: Store, msg, rows: list[int], now: float) -> None:
        """``store`` gave a 250 to ``rows`` of ``msg``: a change for the log, and maybe the end of an RTO."""
        if self._waiting_rto:
            for f in self._waiting_rto:
                f.rto_s = now - f.t
            self._waiting_rto = []
        if store is not self.active or not self.feeds:
            return
        n = self.log.append(now, msg, rows)
        if n > self.backlog_peak:
            self.backlog_peak = n

    def backlog_of(self, store: Store) -> tuple[int, int, int]:
        """The backlog gauges as ``store`` holds them: messages, bytes, age of the oldest (seconds)."""
        log = self.log if store is self.active else self.stranded if store is self.stranded_on else None
        if not log:
            return 0, 0, 0
        return len(log), log.bytes, int(self.env.now - log.oldest())

    def _can_sync(self) -> bool:
        active, standby = self.active, self.standby
        if not (active.up and standby.up) or active.empty or standby.empty or self.env.now < self.ready_at:
            return False
        return standby.san is None or standby.san.connect() is not None

    def _sync_client(self):
        """sync_client -r: a run, then a wait, forever; a run replays the log in slices until it is empty
        or a slice fails (a store went down, the standby's SAN cannot be reached)."""
        env = self.env
        while True:
            yield env.timeout(self.interval())
            while self.log and self._can_sync():
                active, standby = self.active, self.standby
                boots = active.boot, standby.boot
                k = min(SLICE, len(self.log))
                times, sizes, recipients = self.log.first(k)
                now = env.now
                done = max(standby.apply(sizes, recipients, now), now + sum(sizes) / self.link_rate)
                yield env.timeout(done - now)
                if (active.boot, standby.boot) != boots or active is not self.active:
                    break  # a store failed during the slice: the next run sends it again
                self.log.drop(k)
                self.replicated += k
                self._lags.append(env.now - np.frombuffer(times, dtype=np.float64))
            if self.failback and self._failback_due():
                yield from self._fail_back()

    # -- failure, switch-over, return -------------------------------------------------------------------

    def went_down(self, store: Store) -> None:
        if store is not self.active:
            return  # the standby: the log grows until it is back
        log = self.log
        f = Failure(store.name, self.env.now, len(log), self.env.now - log.oldest() if log else None)
        if not self.feeds:
            f.rpo_messages, f.rpo_s = None, None
        self.failures.append(f)
        self._waiting_rto.append(f)
        if self.switchover is not None and self.standby is not None:
            self.env.process(self._switch_after_failure(store, store.boot))

    def lost(self, store: Store) -> int:
        """``store``'s disks are gone: its unreplicated deliveries are lost (returns how many
        recipients); it comes back empty."""
        lost = 0
        if store is self.active and self.log:
            lost = self._write_off(store, self.log)
            self.log = ReplicationLog()
        elif store is self.stranded_on:
            lost = self._write_off(store, self.stranded)
            self.stranded = ReplicationLog()
            self.stranded_on = None
        return lost

    def _write_off(self, store: Store, log: ReplicationLog) -> int:
        now, ledger, population = self.env.now, self.ledger, self.mailboxes
        usage = population.usage
        lost = 0
        for size, rows, boxes in log.entries():
            ledger.write_off(rows, now, LOST, self._unreplicated, store.code)
            for box in boxes:
                if box >= 0:
                    before = usage[box]
                    usage[box] = max(0, before - size)
                    population.usage_total -= before - usage[box]
            lost += len(rows)
        self.lost_recipients += lost
        for f in reversed(self.failures):
            if f.node == store.name:
                f.lost += lost
                break
        return lost

    def came_up(self, store: Store) -> None:
        if store.empty:
            store.empty = False
            if store is self.active:
                # Nobody switched over: the store is filled again before it serves, from the other one, or
                # from the nightly backup when that lost its data too (components/backup.py).
                self.address.serve_with([])
                self._refilling.add(store.name)
                self.env.process(self._refilled(store, self._refill_time(store)))
            else:
                self.ready_at = self.env.now + self.full_resync
            return
        if store is self.stranded_on:
            # Resynchronised: what it had not replicated reaches the serving store; nothing is lost.
            self.recovered += self.stranded.recipients
            self.stranded = ReplicationLog()
            self.stranded_on = None

    def _refill_time(self, store: Store) -> float:
        """How long ``store``, back empty, takes to be filled: a full resync from the other store, or a
        restore from the backup (at its restore rate) when there is no other store with the data."""
        other = self.standby if store is self.active else self.active
        backup = store.peer("backup")
        if (other is None or other.empty) and backup is not None and backup.members:
            restore = backup.members[0].restore(store, self.env.now)
            if restore is not None:
                return restore
        return self.full_resync

    def _refilled(self, store: Store, wait: float):
        yield self.env.timeout(wait)
        self._refilling.discard(store.name)
        if store is self.active:
            self.address.serve_with([store])

    def _switch_after_failure(self, failed: Store, boot: int):
        yield self.env.timeout(self.switchover)
        standby = self.standby
        back = failed.up and failed.boot == boot and failed.name not in self._refilling
        if failed is not self.active or back or self._switching:
            return  # it came back with its data first (or another switch is under way): no switch-over
        if not standby.up or standby.empty:
            return  # nothing to switch to
        self.switchovers += 1
        self.stranded, self.stranded_on = self.log, failed
        self.log = ReplicationLog()
        self.active, self.standby = standby, failed
        if failed.name in self._refilling:  # it came back empty: the standby it becomes needs a full copy
            self._refilling.discard(failed.name)
            self.ready_at = self.env.now + self.full_resync
        self.address.serve_with([standby])

    def _failback_due(self) -> bool:
        primary = self.primary
        return (
            self.active is not primary
            and self.standby is primary
            and not self._switching
            and not self.log
            and not self.stranded
            and primary.up
            and not primary.empty
            and self.env.now >= self.ready_at
        )

    def _fail_back(self):
        """The planned switch back to the primary: LMTP defers for ``switchover``, then the primary serves
        and the replica is the standby again."""
        self._switching = True
        self.address.serve_with([])
        yield self.env.timeout(self.switchover)
        self._switching = False
        self.failbacks += 1
        self.active, self.standby = self.primary, self.active
        self.address.serve_with([self.primary])
        if not self.primary.up:  # it failed during the switch: a failure of the serving store
            self.went_down(self.primary)

    # -- what the run reports ----------------------------------------------------------------------------

    def failure_of(self, node: str, t: float) -> Failure | None:
        return next((f for f in self.failures if f.node == node and f.t == t), None)

    def lags(self) -> np.ndarray:
        return np.concatenate(self._lags) if self._lags else np.zeros(0)

    def results(self) -> dict[str, dict]:
        if not self.feeds:
            return {}
        lags = self.lags()
        q = np.percentile(lags, [50, 95]) if len(lags) else [None, None]
        return {
            "replication": {
                "replicated": self.replicated,
                "lag_p50_s": float(q[0]) if len(lags) else None,
                "lag_p95_s": float(q[1]) if len(lags) else None,
                "lag_max_s": float(lags.max()) if len(lags) else None,
                "backlog_peak_messages": self.backlog_peak,
                "backlog_at_end": len(self.log) + len(self.stranded),
                "recovered": self.recovered,
                "lost": self.lost_recipients,
                "switchovers": self.switchovers,
                "failbacks": self.failbacks,
                "serving": self.active.name,
            }
        }


class Primary(Store):
    """The Cyrus primary: the store, with the replication pair built once for its group."""

    SERVICE = Replication
