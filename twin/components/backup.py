"""The TSM server and the nightly incremental backup of the mail store (seed §2; docs/platform.md §A;
docs/backup.md).

Every day at ``start`` (local time; the seed: 20:00 to 08:00) the TSM server's schedule starts an
incremental backup on the store that serves the mailboxes. TSM's incremental examines every file (a
``stat()`` each, docs/platform.md §A) and sends those that are new since the last backup; a Cyrus mailbox
is one file per message (``Mailboxes.messages``) plus ``metadata_files`` on the SAN. So a night's work
is: every message file examined at ``examine_rate`` and every new byte read at ``read_rate``, both with
the disks to itself, on the store's disk array; the metadata files on the SAN at ``examine_rate``. It is
handed to those stations as background work (``Station.start_batch``): ``outstanding`` requests of
``request`` seconds outstanding at once, each issued when the previous ends, queued FIFO with the LMTP
deliveries and the users' commands. So the backup takes what they leave, they wait behind a request or
two of it, and it takes longer when they are busy; nothing waits hours behind it.

A night's backup is:
- **missed** when, at its start, the TSM server is down, no store serves the mailboxes, no SAN path
  answers, or the previous night's backup is still running (TSM's schedule window passes);
- **failed** when the TSM server, the store or the SAN fails while it runs (what it had sent stays in
  the backup, the rest waits for the next night);
- **completed** when both its disk and its SAN work are done: the backup then holds the mailboxes as
  they were at its start. Its ``overrun`` is how far it ran past ``window_end``;
- **running** when the run ends first.

The backup storage holds the active versions (the mailboxes as of the last backup) and, for
``retention`` (the seed: 90 days), every message deleted since it was backed up (TSM's ``VERDELETED=1,
RETONLY=90``); a message delivered and deleted between two backups never reaches it. Its size at each
backup is a result, and the steady size the retention implies at the run's rate of deletions.

Not modelled: TSM's own server (its database, disk pool and tapes: the server is only up or down), the
network to it (``read_rate`` is the slower of disk and link), journal-based backup, and files changed in
place (Cyrus's index and cache files are examined, not sent).

A **restore**: when both stores have lost their data (``loss`` faults), the one that serves comes back
empty and is restored from the backup before it serves (``Replication``): the backup's active versions at
``restore_rate``. The time shows in the store's incident as its RTO; the mail delivered after the last
completed backup started is counted (``recipients_since_backup``) but its ledger rows stay delivered.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from twin.components.server import Server
from twin.sim.calendar import daily

POLL = 60.0  # seconds between two looks at a running backup: the resolution of its recorded end
DAY = 86400.0
DOWN = {"backup": "tsm server down", "store": "store down", "replica": "store down", "san": "san down"}


class Backup(Server):
    OUTAGE = "the night's backup is missed (or fails, if it was running); mail is not affected"
    GAUGES = ("backup_running", "backup_storage_bytes")

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.boxes = ctx.mailboxes
        self.nights: list[dict] = []
        self.running: dict | None = None
        # The backup storage, as TSM holds it: the active versions (each mailbox as of the last backup; a
        # message deleted since is still active until the next backup notices) and the deleted versions,
        # (expiry, bytes), kept for the retention.
        self.active_bytes = float(sum(self.boxes.backed_bytes))
        self.inactive: deque[tuple[float, float]] = deque()
        self.inactive_bytes = 0.0
        self.deleted_total = 0.0  # bytes of backed-up messages deleted, noticed by a backup
        self.stores = None
        self._lmtp: list = []  # the stores whose deliveries the backup would have to restore
        self._delivered_at_backup = 0  # their 250s when the last completed backup started (0: the start)
        self.restores: list[dict] = []

    def start(self) -> None:
        self.stores = self.peer("store")
        for kind in ("store", "replica"):
            group = self.peer(kind)
            self._lmtp += list(group.members) if group is not None else []
        if self.stores is not None and self.boxes.count:
            self.env.process(self._schedule())

    # -- the schedule ---------------------------------------------------------------------------------------

    def _schedule(self):
        env, spec = self.env, self.spec
        clock = self.ctx.scenario.clock
        for t in daily(clock, spec.start, self.ctx.end):
            if t > env.now:
                yield env.timeout(t - env.now)
            night = {"start_s": env.now, "due_s": self._due(env.now), "status": "missed", "reason": None}
            self.nights.append(night)
            store = self.stores.connect()
            san = store.san.connect() if store is not None and store.san is not None else None
            if self.running is not None:
                night["reason"] = "the previous backup is still running"
            elif not self.up:
                night["reason"] = "tsm server down"
            elif store is None:
                night["reason"] = "no store serves the mailboxes"
            elif store.san is not None and san is None:
                night["reason"] = "san unreachable"
            else:
                env.process(self._run(night, store, san))

    def _due(self, t: float) -> float:
        """When the window that starts at ``t`` ends: the first ``window_end`` local time after ``t``."""
        return next(u for u in daily(self.ctx.scenario.clock, self.spec.window_end, math.inf) if u > t)

    def _run(self, night: dict, store, san):
        """One night's incremental backup on ``store`` (and its metadata on ``san``)."""
        env, spec, boxes = self.env, self.spec, self.boxes
        messages = np.asarray(boxes.messages, dtype=np.float64)
        usage = np.asarray(boxes.usage)
        files = int(messages.sum())
        new_files = int(np.maximum(messages - np.asarray(boxes.backed), 0).sum())
        new_bytes = float(np.maximum(usage - np.asarray(boxes.backed_bytes), 0).sum())
        meta = spec.metadata_files * boxes.count
        # The work in server-seconds: alone, ``outstanding`` streams do it in the time of examining and
        # reading.
        k, request = spec.outstanding, spec.request
        jobs = []  # (node, station, the batch on it, the files it examines)

        def job(node, station, work: float, n: int):
            jobs.append(
                (node, station, station.start_batch(_requests(work, request), k, request, env.now), n)
            )

        if store.disk is not None:
            job(store, store.disk, k * (files / spec.examine_rate + new_bytes / spec.read_rate), files)
        if san is not None and san.station is not None and meta:
            job(san, san.station, k * meta / spec.examine_rate, meta)
        boots = [(node, node.boot) for node, *_ in jobs] + [(self, self.boot), (store, store.boot)]
        disk = store.disk
        busy0 = disk.busy_total_at(env.now) if disk is not None else 0.0
        delivered = self._delivered()
        night.update(
            status="running", store=store.name, files=files + meta, new_files=new_files, new_bytes=new_bytes
        )
        self.running = night
        store.backing_up = True
        try:
            while True:
                yield env.timeout(POLL)
                broken = next((node for node, boot in boots if node.boot != boot), None)
                if broken is not None:
                    for _, station, _, _ in jobs:
                        station.stop_batch(env.now)  # the backup's session is gone
                    night.update(status="failed", reason=DOWN[broken.kind], end_s=env.now)
                    break
                if all(batch.finished(env.now) for _, _, batch, _ in jobs):
                    end = max((batch.end for _, _, batch, _ in jobs), default=env.now)
                    night.update(status="completed", end_s=end)
                    self._completed(messages, usage, end)
                    self._delivered_at_backup = delivered
                    break
        finally:
            store.backing_up = False
            self.running = None
        night["examined"] = sum(round(n * b.done / b.requests) if b.requests else n for _, _, b, n in jobs)
        night["duration_s"] = night["end_s"] - night["start_s"]
        night["overrun_s"] = max(0.0, night["end_s"] - night["due_s"])
        if disk is not None and env.now > night["start_s"]:
            busy = disk.busy_total_at(env.now) - busy0  # to the look after its end
            night["disk_utilisation"] = busy / (disk.servers * (env.now - night["start_s"]))

    def _completed(self, messages: np.ndarray, usage: np.ndarray, end: float) -> None:
        """The backup now holds the mailboxes as they were at its start (less what was deleted since);
        what was deleted since the last one is kept as deleted versions for ``retention``."""
        boxes = self.boxes
        now_messages = np.asarray(boxes.messages, dtype=np.float64)
        boxes.backed = np.minimum(messages, now_messages).astype(np.int64).tolist()
        boxes.backed_bytes = np.minimum(usage, np.asarray(boxes.usage)).tolist()
        deleted, boxes.deleted_backed_bytes = boxes.deleted_backed_bytes, 0.0
        self.deleted_total += deleted
        if deleted:
            self.inactive.append((end + self.spec.retention, deleted))
            self.inactive_bytes += deleted
        while self.inactive and self.inactive[0][0] <= end:
            self.inactive_bytes -= self.inactive.popleft()[1]
        self.active_bytes = float(sum(boxes.backed_bytes))
        self.nights[-1]["storage_bytes"] = self.storage()

    # -- a restore ------------------------------------------------------------------------------------------

    def restore(self, store, now: float) -> float | None:
        """``store`` came back empty and no other store has the mailboxes: they are restored from the
        backup at ``restore_rate``; returns how long that takes (None without a restore rate). What was
        delivered after the last completed backup started is not in it (``recipients_since_backup``; the
        ledger keeps those rows delivered)."""
        rate = self.spec.restore_rate
        if rate is None:
            return None
        size = self.active_bytes
        self.restores.append(
            {
                "store": store.name,
                "start_s": now,
                "bytes": size,
                "duration_s": size / rate,
                "recipients_since_backup": self._delivered() - self._delivered_at_backup,
            }
        )
        return size / rate

    def _delivered(self) -> int:
        return sum(s.replies["250"] for s in self._lmtp)

    # -- what it reports ------------------------------------------------------------------------------------

    def storage(self) -> float:
        """Bytes in the backup storage: the active versions and the deleted ones still kept."""
        return self.active_bytes + self.inactive_bytes

    def gauges(self) -> tuple[float, ...]:
        return int(self.running is not None), int(self.storage())

    def results(self) -> dict[str, dict]:
        out = super().results()
        span = self.ctx.end
        deleted = self.deleted_total + self.boxes.deleted_backed_bytes  # also those no backup noticed yet
        per_day = deleted / span * DAY if span else 0.0
        active = self.active_bytes
        nights = [
            {k: (round(v, 3) if isinstance(v, float) else v) for k, v in n.items()} for n in self.nights
        ]
        status = [n["status"] for n in self.nights]
        out["backup"] = {
            "nights": nights,
            "completed": status.count("completed"),
            "failed": status.count("failed"),
            "missed": status.count("missed"),
            "running_at_end": status.count("running"),
            "overrun_max_s": max((n.get("overrun_s", 0.0) for n in self.nights), default=0.0),
            "storage_bytes": self.storage(),
            "storage_active_bytes": active,
            "deleted_per_day_bytes": per_day,
            "storage_steady_bytes": active + per_day * self.spec.retention / DAY,
            "restores": self.restores,
        }
        return out


def _requests(work: float, request: float) -> int:
    return math.ceil(work / request) if work > 0 else 0
