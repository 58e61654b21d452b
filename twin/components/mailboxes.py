"""The population of addresses mail is sent to: their directory entries (LDAP: status, quarantine flag)
and their Cyrus mailboxes (quota, usage). The frontends read it at RCPT and for the quarantine, the
store at LMTP; the inbound workload draws recipients from it (``pick``).

Each address has one status (docs/platform.md §3.1): ``active``; ``deactivated`` (rejected at RCPT, stage 2);
``unknown`` (no directory entry, rejected at RCPT, stage 3); ``missing`` (in the directory but without a
mailbox at the store: ``550 5.1.1`` at LMTP, stage 10). Independently, a mailbox has a quota and a usage
that grows with every delivery (Cyrus lets one message push a mailbox over its quota; the next gets
``452 4.2.2``, stage 11), a count of message files and of the messages its user has not fetched yet
(``components/access.py`` reads and deletes them), a flag for the spam quarantine (stage 7), and the
Sieve script it runs, if any (stage 12, ``filters.py``).

Everything is indexed by mailbox number (numpy arrays, and lists where the stages read or change one
mailbox at a time); the ledger's ``mailbox`` column holds that number.
"""

from __future__ import annotations

import numpy as np

from twin.sim.ledger import NO_MAILBOX

ACTIVE, DEACTIVATED, UNKNOWN, MISSING = range(4)
STATUS_NAMES = ("active", "deactivated", "unknown", "missing")
GUESSED = NO_MAILBOX  # a made-up address (dictionary attack): not in the population, unknown to LDAP


class Mailboxes:
    name = "mailboxes"

    def __init__(self, env, streams, spec):
        n = spec.count
        self.env = env
        self.spec = spec
        self.count = n
        rng = streams.generator("workload.mailboxes.population")
        u = rng.random(n)
        edges = np.cumsum([spec.deactivated, spec.unknown, spec.missing])
        by_band = np.array([DEACTIVATED, UNKNOWN, MISSING, ACTIVE], dtype=np.uint8)
        self.status = by_band[np.searchsorted(edges, u, side="right")]
        self.quarantine = rng.random(n) < spec.quarantine
        # The same, as lists: the stages read one address at a time, which lists do faster.
        self.status_of = self.status.tolist()
        self.quarantine_of = self.quarantine.tolist()
        self.quota = np.full(n, float(spec.quota))
        usage = spec.usage.draw_fn(rng)(n) if n else np.zeros(0)
        # Kinds of mailbox (students, staff, functional) with their own quota and usage, drawn from streams
        # of their own; without them every mailbox is of one kind, ``all``.
        self.class_names = list(spec.classes) or ["all"]
        self.class_of = np.zeros(n, dtype=np.int64)
        weight = np.ones(n)
        if spec.classes and n:
            crng = streams.generator("workload.mailboxes.classes")
            edges = np.cumsum([c.share for c in spec.classes.values()])
            self.class_of = np.minimum(np.searchsorted(edges, crng.random(n), side="right"), len(edges) - 1)
            for k, c in enumerate(spec.classes.values()):
                mine = self.class_of == k
                self.quota[mine] = float(c.quota)
                usage[mine] = c.usage.draw_fn(crng)(int(mine.sum()))
                weight[mine] = c.weight
        usage = np.minimum(usage, self.quota * 0.999)
        over = rng.random(n) < spec.over_quota
        usage[over] = self.quota[over]
        # Usage changes with every delivery, one mailbox at a time: a list (bytes per mailbox).
        self.usage: list[float] = usage.tolist()
        self.usage_total = float(usage.sum())  # kept with every change: what the stores' arrays hold
        self.quota_of = self.quota.tolist()
        # The message files in each mailbox (the usage in messages of the mean size), and what has come
        # since its user last fetched: the users' sessions read, delete and expunge them (access.py).
        self.messages: list[int] = np.rint(usage / spec.message_size).astype(np.int64).tolist()
        self.fresh: list[int] = [0] * n  # messages not fetched yet
        self.fresh_bytes: list[float] = [0.0] * n
        # What the nightly backup holds of each mailbox (components/backup.py): its files and bytes as of
        # the last backup, less what was deleted since (the mailboxes as they are at the start are in it);
        # and the bytes of backed-up messages deleted since the last backup (kept 90 days, seed §2).
        self.backed: list[int] = list(self.messages)
        self.backed_bytes: list[float] = list(self.usage)
        self.deleted_backed_bytes = 0.0
        # Popularity: address i (in a random order) receives mail with weight rank^-popularity.
        ranks = rng.permutation(n) + 1.0
        weights = (ranks**-spec.popularity if spec.popularity > 0 else np.ones(n)) * weight
        self._cdf = np.cumsum(weights) / weights.sum() if n else np.zeros(0)
        # Stage 12: the script template each mailbox runs (-1: none), drawn from a stream of its own.
        self.domain = spec.domain
        self.script_of: list[int] | None = None
        if spec.sieve is not None and spec.sieve.enabled and n:
            sieve_rng = streams.generator("workload.mailboxes.sieve")
            has = sieve_rng.random(n) < spec.sieve.share
            edges = np.cumsum([t.share for t in spec.sieve.scripts])
            which = np.minimum(np.searchsorted(edges, sieve_rng.random(n), side="right"), len(edges) - 1)
            self.script_of = np.where(has, which, -1).tolist()
        self.expunged = 0
        self._expunge_rng = streams.generator("workload.mailboxes.expunge")
        if spec.expunge is not None and n:
            env.process(self._expunge(env, spec.expunge))
        # Mailboxes at their quota too long are deactivated (stage 2) until cleaned up (docs/mailboxes.md):
        # since when each has been full (nan: it is not), and which were deactivated for it. A mailbox full
        # at the start has been so for a time drawn uniformly up to ``deactivate_after``.
        self.usage_at_start = np.asarray(self.usage)
        self.full_since = np.full(n, np.nan)
        self.locked = np.zeros(n, dtype=bool)
        self.deactivations = self.reactivations = 0
        self.locked_count = 0  # mailboxes deactivated for their quota now
        after = spec.deactivate_after
        if after is not None and n:
            lrng = streams.generator("workload.mailboxes.full_since")
            self.full_since[over] = -lrng.random(int(over.sum())) * after
            env.process(self._locks(env, after, spec.lock_check))

    def pick(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` recipient mailboxes drawn by popularity."""
        if not self.count:
            return np.full(k, GUESSED, dtype=np.int64)
        return np.minimum(np.searchsorted(self._cdf, rng.random(k), side="right"), self.count - 1)

    def active(self) -> np.ndarray:
        """The numbers of the active mailboxes (whose users can log in and send)."""
        return np.flatnonzero(self.status == ACTIVE)

    def _expunge(self, env, spec):
        while True:
            yield env.timeout(spec.every)
            full = np.flatnonzero(np.asarray(self.usage) >= self.quota)
            if not len(full):
                continue
            chosen = full[self._expunge_rng.random(len(full)) < spec.share]
            for box, left in zip(chosen.tolist(), (self.quota[chosen] * spec.to).tolist(), strict=True):
                k = self.messages[box] - round(self.messages[box] * left / self.usage[box])
                if k > 0:
                    self.delete(box, k, oldest=True)
            self.expunged += len(chosen)

    def delete(self, box: int, k: int, oldest: bool = False, size: float | None = None) -> None:
        """``k`` messages of mailbox ``box`` (at most its files) are expunged: the newest first (what the
        user has just read), or the ``oldest`` (a clean-up); each of ``size`` bytes (what was read), or of
        the mailbox's mean size when ``size`` is None. Those the backup holds become deleted versions in it
        (``deleted_backed_bytes``)."""
        n = self.messages[box]
        k = min(k, n)
        if k <= 0:
            return
        usage = self.usage[box]
        gone = usage * k / n if size is None or k == n else min(usage, k * size)
        each = gone / k
        backed = self.backed[box]
        in_backup = min(k, backed) if oldest else max(0, k - (n - backed))  # of the files the backup holds
        if in_backup:
            self.backed[box] = backed - in_backup
            self.backed_bytes[box] = max(0.0, self.backed_bytes[box] - in_backup * each)
            self.deleted_backed_bytes += in_backup * each
        self.usage[box] = usage - gone
        self.usage_total -= gone
        self.messages[box] = n - k

    def _locks(self, env, after: float, every: float):
        """The directory's procedures, every ``every``: a mailbox full for ``after`` is deactivated, one
        deactivated for it that is below its quota again is active again."""
        while True:
            yield env.timeout(every)
            now = env.now
            full = np.asarray(self.usage) >= self.quota
            since = self.full_since
            since[full & np.isnan(since)] = now
            since[~full] = np.nan
            lock = np.flatnonzero(full & (now - since >= after) & (self.status == ACTIVE))
            unlock = np.flatnonzero(self.locked & ~full)
            for box in lock.tolist():
                self.status_of[box] = DEACTIVATED
            for box in unlock.tolist():
                self.status_of[box] = ACTIVE
            self.status[lock], self.locked[lock] = DEACTIVATED, True
            self.status[unlock], self.locked[unlock] = ACTIVE, False
            self.deactivations += len(lock)
            self.reactivations += len(unlock)
            self.locked_count = int(self.locked.sum())

    def by_class(self, span: float) -> dict[str, dict]:
        """Per kind of mailbox: count, quota, usage at the start and now, growth a day over ``span``
        seconds, mailboxes at their quota now and deactivated for it."""
        usage = np.asarray(self.usage)
        full = usage >= self.quota
        out = {}
        for k, name in enumerate(self.class_names):
            mine = self.class_of == k
            start, now = float(self.usage_at_start[mine].sum()), float(usage[mine].sum())
            out[name] = {
                "mailboxes": int(mine.sum()),
                "quota_bytes": float(self.quota[mine].max()) if mine.any() else 0.0,
                "usage_start_bytes": int(start),
                "usage_bytes": int(now),
                "growth_bytes_per_day": (now - start) / span * 86400 if span > 0 else None,
                "over_quota_now": int(full[mine].sum()),
                "locked_now": int(self.locked[mine].sum()),
            }
        return out

    def results(self) -> dict[str, dict]:
        """The ``mailboxes`` block of kpis.json (none without a population)."""
        if not self.count:
            return {}
        counts = np.bincount(self.status, minlength=len(STATUS_NAMES))
        return {
            "mailboxes": {
                "count": self.count,
                **{name: int(counts[i]) for i, name in enumerate(STATUS_NAMES)},
                "quarantine": int(self.quarantine.sum()),
                "sieve": sum(t >= 0 for t in self.script_of) if self.script_of is not None else 0,
                "over_quota_now": int((np.asarray(self.usage) >= self.quota).sum()),
                "expunged": self.expunged,
                "deactivated_for_quota": self.deactivations,
                "reactivated": self.reactivations,
                "locked_now": self.locked_count,
                "by_class": self.by_class(self.env.now),
                "usage_bytes": int(sum(self.usage)),
            }
        }
