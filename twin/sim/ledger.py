"""The ledger: one row per offered recipient (docs/architecture.md principle 2), in columns, kept in memory
only while it can still change.

Rows are numbered in offer order and live in chunks of ``CHUNK`` rows, each a ``Block`` of numpy columns.
A message's recipients occupy consecutive rows, so most updates are one scalar or slice assignment.
Strings (traffic classes, stages, node names) are small integer codes into vocabularies.

Memory does not grow with the horizon: ``retire`` writes each chunk whose rows were all offered long
enough ago to a spill file on disk (raw columns, in chunk order) and frees it. The rows of that chunk
still pending (a message waiting days on a spool for a full mailbox, a sender that retries) stay in
memory as *strays*, where they go on changing; strays that have become final follow to the spill in
batches. At the end, ``blocks`` hands out every row in order, one chunk at a time: retired chunks read
back from the spill with their strays laid over them. The Parquet
file and the KPIs are made from that one pass (``twin/parquet.py``, ``twin/analysis/tally.py``).

Only the rows in memory can be read or written: the live chunks and the strays. A final row of a retired
chunk is on disk; nothing in the model needs it again.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from twin.scenario.schema import STATES

PENDING = STATES.index("pending")
NO_MAILBOX = -1  # the ``mailbox`` of a recipient without one: a made-up address, or traffic without mailboxes
STATE_CODE = {s: i for i, s in enumerate(STATES)}

COLUMNS = {
    "msg_id": np.int32,
    "parent_id": np.int32,  # -1: an original message; later: bounces, redirects, list copies
    "traffic_class": np.uint16,
    "origin": np.uint16,  # the source (or, later, component) that offered it
    "size": np.int64,  # bytes (a message of 2 GiB and more fits)
    "t_offered": np.float64,  # seconds since clock.start
    "t_accepted": np.float64,  # NaN: never accepted
    "t_final": np.float64,  # NaN: still pending
    "state": np.uint8,  # index into STATES
    "stage": np.uint16,  # where it ended, or where it waits
    "node": np.uint16,  # node it ended at or waits at
    "attempts": np.uint32,  # delivery attempts (a retry a second for 10 years fits)
    "mailbox": np.int32,  # the recipient's mailbox (index into the population); -1: none or made up
    "spam_score": np.int8,  # PureMessage probability in percent; -1: not scanned
    "folder": np.uint16,  # the mailbox folder a delivered recipient's message is in (0: INBOX); see below
}
# ``folder`` means something only for a delivered row (the Parquet file leaves it empty on the others): the
# folder its mailbox's Sieve script filed it into (the first one, if several), else INBOX.
INBOX = 0
ROW_BYTES = sum(np.dtype(t).itemsize for t in COLUMNS.values())

# What a row holds before anything happened to it (a new, pending recipient of an original message).
FILL = {
    "parent_id": -1,
    "t_accepted": np.nan,
    "t_final": np.nan,
    "state": PENDING,
    "mailbox": NO_MAILBOX,
    "spam_score": -1,
}

SHIFT = 16
CHUNK = 1 << SHIFT  # rows per chunk: 65,536 rows, 3.8 MB
MASK = CHUNK - 1


class Vocabulary:
    """Interned names: code(name) -> small int, stable in order of first use."""

    def __init__(self, names=()):
        self.names: list[str] = []
        self._codes: dict[str, int] = {}
        for n in names:
            self.code(n)

    def code(self, name: str) -> int:
        c = self._codes.get(name)
        if c is None:
            c = self._codes[name] = len(self.names)
            self.names.append(name)
        return c

    def categorical(self, codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.astype(np.int32), categories=self.names)


class Block:
    """Rows in columns: one numpy array per entry of ``COLUMNS``, as attributes."""

    __slots__ = tuple(COLUMNS)

    def __init__(self, size: int):
        for k, t in COLUMNS.items():
            setattr(self, k, np.full(size, FILL.get(k, 0), dtype=t))

    def __len__(self) -> int:
        return len(self.msg_id)

    def columns(self, n: int | None = None) -> dict[str, np.ndarray]:
        """The first ``n`` rows (default all) of each column, by name: views, not copies."""
        return {k: getattr(self, k)[:n] for k in COLUMNS}

    def grown(self, size: int) -> Block:
        new = Block(size)
        n = len(self)
        for k in COLUMNS:
            getattr(new, k)[:n] = getattr(self, k)
        return new


class Ledger:
    def __init__(self):
        self.n = 0  # rows offered
        self.messages = 0
        self.classes = Vocabulary()
        self.stages = Vocabulary(["offered"])
        self.nodes = Vocabulary(["(sender)"])  # code 0: not yet taken in by any component
        self.origins = Vocabulary()
        self.folders = Vocabulary(["INBOX"])
        self.double_final = 0  # rows given a terminal state twice: a bug, reported by the conservation check
        self.generated = 0  # rows of messages the platform wrote itself (bounces, warnings, notices)
        self._chunks: list[Block | None] = []  # chunk i: rows i * CHUNK ..; None once retired
        self.retired = 0  # chunks below this one are on the spill
        # Pending rows of retired chunks: a growing block, and each row's slot in it.
        self._stray = Block(1024)
        self._stray_slot: dict[int, int] = {}
        self.settle_at = 4096  # final strays go to the spill once there are this many (and half of all)
        self._spill_dir: Path | None = None
        self._closed = False
        # Terminal states written later in one vectorised step (finish_later): (first row, rows, time,
        # state, stage, node) of each message.
        self._later: list[tuple[int, int, float, int, int, int]] = []
        # Rows written off after they were final (delivered into a store whose disks were then lost), whose
        # chunk was already on the spill: row -> (t_final, state, stage, node), laid over it by ``blocks``.
        self._amended: dict[int, tuple[float, int, int, int]] = {}

    # -- where rows are ------------------------------------------------------------------------------------

    def _at(self, r: int) -> tuple[Block, int]:
        """The block holding row ``r`` and its index there (the row must be in memory)."""
        c = self._chunks[r >> SHIFT]
        if c is not None:
            return c, r & MASK
        return self._stray, self._stray_slot[r]

    def holds(self, r: int) -> bool:
        """Whether row ``r`` is in memory (a live chunk or a stray), where it can be read and changed."""
        return self._chunks[r >> SHIFT] is not None or r in self._stray_slot

    @property
    def rows_in_memory(self) -> int:
        """Rows the ledger holds in memory now: its live chunks and its strays."""
        return CHUNK * sum(c is not None for c in self._chunks) + len(self._stray_slot)

    # -- offering ------------------------------------------------------------------------------------------

    def _make_room(self, r1: int) -> None:
        while len(self._chunks) << SHIFT < r1:
            self._chunks.append(Block(CHUNK))

    def offer(
        self,
        n: int,
        t: float,
        traffic_class: int,
        origin: int,
        size: int,
        parent: int = -1,
        mailboxes: list[int] | None = None,
    ) -> tuple[int, int]:
        """New message with ``n`` recipients; returns (message id, first row). Unused rows already hold
        the defaults of a new, pending row, so only the message's own fields are written. A message with
        a ``parent`` is one the platform wrote (a bounce, a warning, a notice): ``generated`` counts it."""
        r0 = self.n
        r1 = r0 + n
        self._make_room(r1)
        mid = self.messages
        self.messages += 1
        self.n = r1
        if parent != -1:
            self.generated += n
        if n == 1 and mailboxes is None and parent == -1:  # the common case, in plain scalar writes
            c, i = self._chunks[r0 >> SHIFT], r0 & MASK
            c.msg_id[i] = mid
            c.traffic_class[i] = traffic_class
            c.origin[i] = origin
            c.size[i] = size
            c.t_offered[i] = t
            return mid, r0
        for k, r in enumerate(range(r0, r1)):
            c, i = self._chunks[r >> SHIFT], r & MASK
            c.msg_id[i] = mid
            c.traffic_class[i] = traffic_class
            c.origin[i] = origin
            c.size[i] = size
            c.t_offered[i] = t
            if parent != -1:
                c.parent_id[i] = parent
            if mailboxes is not None:
                c.mailbox[i] = mailboxes[k]
        return mid, r0

    def offer_many(
        self,
        counts: np.ndarray,
        t: np.ndarray,
        traffic_class: np.ndarray,
        origin: int,
        size: np.ndarray,
        mailbox: np.ndarray,
    ) -> tuple[int, np.ndarray]:
        """Many new messages at once (in the order given, each offered once): returns the first message
        id (the others follow) and each message's first row."""
        m = len(counts)
        total = int(counts.sum())
        r0, r1 = self.n, self.n + total
        self._make_room(r1)
        starts = r0 + np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        mid0 = self.messages
        values = {
            "msg_id": np.repeat(np.arange(mid0, mid0 + m), counts),
            "traffic_class": np.repeat(traffic_class, counts),
            "size": np.repeat(size, counts),
            "t_offered": np.repeat(t, counts),
            "mailbox": mailbox,
        }
        lo = r0
        while lo < r1:  # one step per chunk the rows fall into
            hi = min(r1, ((lo >> SHIFT) + 1) << SHIFT)
            c, a, b = self._chunks[lo >> SHIFT], lo & MASK, ((hi - 1) & MASK) + 1
            for k, v in values.items():
                getattr(c, k)[a:b] = v[lo - r0 : hi - r0]
            c.origin[a:b] = origin
            c.attempts[a:b] = 1
            lo = hi
        self.messages += m
        self.n = r1
        return mid0, starts

    # -- reading -------------------------------------------------------------------------------------------

    def state_of(self, r: int) -> int:
        self.flush()
        c, i = self._at(r)
        return int(c.state[i])

    # -- updating ------------------------------------------------------------------------------------------
    # Rows of one message are consecutive; a range within one live chunk is a slice assignment, anything
    # else goes row by row (multi-recipient messages are a minority, and rarely straddle two chunks).

    def _slice(self, r0: int, n: int) -> tuple[Block, int, int] | None:
        c = self._chunks[r0 >> SHIFT]
        if c is None or (r0 + n - 1) >> SHIFT != r0 >> SHIFT:
            return None
        a = r0 & MASK
        return c, a, a + n

    def locate(self, r0: int, n: int, node: int, stage: int) -> None:
        if n == 1:
            c = self._chunks[r0 >> SHIFT]
            if c is not None:
                i = r0 & MASK
                c.node[i] = node
                c.stage[i] = stage
                return
        s = self._slice(r0, n)
        if s is not None:
            c, a, b = s
            c.node[a:b] = node
            c.stage[a:b] = stage
        else:
            self.locate_rows(range(r0, r0 + n), node, stage)

    def locate_rows(self, rows, node: int, stage: int) -> None:
        for r in rows:
            c, i = self._at(r)
            c.node[i] = node
            c.stage[i] = stage

    def locate_message(self, r0: int, n: int, live: list[int] | None, node: int, stage: int) -> None:
        """``locate`` for a message's recipients still in play: all (``live`` None) or ``live``."""
        if live is None:
            self.locate(r0, n, node, stage)
        else:
            self.locate_rows(live, node, stage)

    def accept(self, r0: int, n: int, t: float) -> None:
        s = self._slice(r0, n)
        if s is not None:
            c, a, b = s
            c.t_accepted[a:b] = t
        else:
            self.accept_rows(range(r0, r0 + n), t)

    def accept_rows(self, rows, t: float) -> None:
        for r in rows:
            c, i = self._at(r)
            c.t_accepted[i] = t

    def set_rows(self, column: str, rows, value) -> None:
        for r in rows:
            c, i = self._at(r)
            getattr(c, column)[i] = value

    def attempt(self, r0: int, n: int) -> None:
        if n == 1:
            c, i = self._at(r0)
            c.attempts[i] += 1
            return
        s = self._slice(r0, n)
        if s is not None:
            c, a, b = s
            c.attempts[a:b] += 1
        else:
            for r in range(r0, r0 + n):
                c, i = self._at(r)
                c.attempts[i] += 1

    def attempt_rows(self, rows) -> None:
        """``attempt`` for recipients that need not be consecutive."""
        for r in rows:
            c, i = self._at(r)
            c.attempts[i] += 1

    def finish(self, r0: int, n: int, t: float, state: int, stage: int, node: int) -> None:
        if n == 1:
            c = self._chunks[r0 >> SHIFT]
            if c is not None:
                i = r0 & MASK
            else:
                c, i = self._stray, self._stray_slot[r0]
            if c.state[i] != PENDING:
                self.double_final += 1
            c.state[i] = state
            c.stage[i] = stage
            c.node[i] = node
            c.t_final[i] = t
            return
        s = self._slice(r0, n)
        if s is None:
            self.finish_rows(range(r0, r0 + n), t, state, stage, node)
            return
        c, a, b = s
        self.double_final += int(np.count_nonzero(c.state[a:b] != PENDING))
        c.state[a:b] = state
        c.stage[a:b] = stage
        c.node[a:b] = node
        c.t_final[a:b] = t

    def finish_rows(self, rows, t: float, state: int, stage: int, node: int) -> None:
        """``finish`` for recipients that need not be consecutive."""
        for r in rows:
            self.finish(r, 1, t, state, stage, node)

    def finish_message(
        self, r0: int, n: int, live: list[int] | None, t: float, state: int, stage: int, node: int
    ) -> None:
        """``finish`` for a message's recipients still in play: all (``live`` None) or ``live``."""
        if live is None:
            self.finish(r0, n, t, state, stage, node)
        else:
            self.finish_rows(live, t, state, stage, node)

    def write_off(self, rows, t: float, state: int, stage: int, node: int) -> None:
        """Change the terminal state of rows that were final already (delivered mail whose only copy
        was lost): not a second terminal state, a correction. Rows no longer in memory are amended when
        the ledger is read (``blocks``)."""
        for r in rows:
            if self.holds(r):
                c, i = self._at(r)
                c.state[i], c.stage[i], c.node[i], c.t_final[i] = state, stage, node, t
            else:
                self._amended[r] = (t, state, stage, node)

    def finish_later(self, r0: int, n: int, t: float, state: int, stage: int, node: int) -> None:
        """``finish``, written at the next ``flush``: for messages nothing else touches afterwards (the
        inbound messages refused at connect, most of the traffic). Readers flush first."""
        self._later.append((r0, n, t, state, stage, node))

    def flush(self) -> None:
        """Write the terminal states kept by ``finish_later`` (``retire`` flushes before it frees a chunk,
        so their rows are in live chunks, or strays)."""
        if not self._later:
            return
        r0s, ns, ts, states, stages, nodes = zip(*self._later, strict=True)
        self._later = []
        counts = np.asarray(ns, dtype=np.int64)
        starts = np.repeat(np.asarray(r0s, dtype=np.int64), counts)
        rows = starts + (np.arange(len(starts)) - np.repeat(np.cumsum(counts) - counts, counts))
        values = {
            "t_final": np.repeat(np.asarray(ts, dtype=np.float64), counts),
            "state": np.repeat(np.asarray(states), counts),
            "stage": np.repeat(np.asarray(stages), counts),
            "node": np.repeat(np.asarray(nodes), counts),
        }
        chunk = rows >> SHIFT
        for ci in np.unique(chunk).tolist():
            mask = chunk == ci
            c = self._chunks[ci]
            if c is None:  # retired meanwhile: a sender retrying long after; its rows are strays
                row_values = zip(
                    rows[mask].tolist(), *(v[mask].tolist() for v in values.values()), strict=True
                )
                for r, t, state, stage, node in row_values:
                    self.finish(r, 1, t, state, stage, node)
                continue
            idx = rows[mask] & MASK
            # Each terminal state given to a row that had one already counts, as in ``finish``.
            distinct = np.unique(idx)
            self.double_final += (
                len(idx) - len(distinct) + int(np.count_nonzero(c.state[distinct] != PENDING))
            )
            for k, v in values.items():
                getattr(c, k)[idx] = v[mask]

    # -- memory ----------------------------------------------------------------------------------------------

    def retire(self, before: float) -> int:
        """Write every complete chunk whose rows were all offered before ``before`` to the spill, in chunk
        order, and free it; its pending rows stay in memory as strays. Returns the chunks retired."""
        self.flush()
        full = self.n >> SHIFT
        done = 0
        while self.retired < full:
            i = self.retired
            c = self._chunks[i]
            if c.t_offered.max() >= before:
                break
            self._keep_strays(i << SHIFT, c, np.flatnonzero(c.state == PENDING))
            self._spill(c)
            self._chunks[i] = None
            self.retired += 1
            done += 1
        self._settle_strays()
        return done

    def _stray_rows(self) -> np.ndarray:
        """The rows of the strays in memory, by slot: the stray block's slots are 0, 1, .. in the order
        the rows were kept (``_keep_strays`` appends, ``_settle_strays`` renumbers)."""
        return np.fromiter(self._stray_slot, dtype=np.int64, count=len(self._stray_slot))

    def _settle_strays(self) -> None:
        """Strays that have become final go to the spill too, once they are at least half of them (and
        ``settle_at``), so that memory holds the rows still in play, not every row that ever waited."""
        n = len(self._stray_slot)
        final = self._stray.state[:n] != PENDING  # slot i is the i-th stray kept (``_stray_rows``)
        if np.count_nonzero(final) < max(self.settle_at, n // 2):
            return
        rows = self._stray_rows()
        s = self._stray
        with open(self._spill_dir / "stray.rows", "ab") as f:
            rows[final].tofile(f)
        for k in COLUMNS:
            with open(self._spill_dir / f"stray.{k}", "ab") as f:
                getattr(s, k)[:n][final].tofile(f)
        keep_rows = rows[~final]
        kept = Block(max(1024, 2 * len(keep_rows)))
        for k in COLUMNS:
            getattr(kept, k)[: len(keep_rows)] = getattr(s, k)[:n][~final]
        self._stray = kept
        self._stray_slot = dict(zip(keep_rows.tolist(), range(len(keep_rows)), strict=True))

    def _keep_strays(self, base: int, c: Block, offsets: np.ndarray) -> None:
        """Keep the rows at ``offsets`` of block ``c`` (its first row is ``base``) in memory as strays."""
        n0 = len(self._stray_slot)
        n1 = n0 + len(offsets)
        if n1 > len(self._stray):
            self._stray = self._stray.grown(max(2 * len(self._stray), n1))
        s = self._stray
        for k in COLUMNS:
            getattr(s, k)[n0:n1] = getattr(c, k)[offsets]
        self._stray_slot.update(zip((base + offsets).tolist(), range(n0, n1), strict=True))

    def _spill(self, c: Block) -> None:
        if self._spill_dir is None:
            self._spill_dir = Path(tempfile.mkdtemp(prefix="mailtwin-ledger-"))
            weakref.finalize(self, shutil.rmtree, self._spill_dir, True)
        for k in COLUMNS:
            with open(self._spill_dir / k, "ab") as f:
                getattr(c, k).tofile(f)

    # -- the end ---------------------------------------------------------------------------------------------

    def blocks(self) -> Iterator[dict[str, np.ndarray]]:
        """Every row in order, as it stands, one chunk at a time: ``{column: array}`` of up to ``CHUNK``
        rows. Retired chunks come back from the spill with their strays laid over them. The arrays are
        for reading, and only until the next block."""
        self.flush()
        if self._closed:
            raise RuntimeError("the ledger was closed: its rows are in the file it was written to")
        # Every stray row as it stands: those settled on the spill, then those still in memory.
        rows = self._stray_rows()
        values = {k: getattr(self._stray, k)[: len(rows)] for k in COLUMNS}  # copied when sorted below
        settled = self._spill_dir / "stray.rows" if self._spill_dir is not None else None
        if settled is not None and settled.exists():
            rows = np.concatenate([np.fromfile(settled, dtype=np.int64), rows])
            for k, t in COLUMNS.items():
                values[k] = np.concatenate([np.fromfile(self._spill_dir / f"stray.{k}", dtype=t), values[k]])
        order = np.argsort(rows, kind="stable")
        rows = rows[order]
        amended = sorted(self._amended)
        values = {k: v[order] for k, v in values.items()}
        for ci in range((self.n + MASK) >> SHIFT):
            lo, hi = ci << SHIFT, min(self.n, (ci + 1) << SHIFT)
            c = self._chunks[ci]
            if c is not None:
                yield c.columns(hi - lo)
                continue
            block = {k: self._read_spill(k, ci) for k in COLUMNS}
            a, b = np.searchsorted(rows, [lo, hi])
            if b > a:
                at = rows[a:b] - lo
                for k in COLUMNS:
                    block[k][at] = values[k][a:b]
            for r in amended[bisect_left(amended, lo) : bisect_left(amended, hi)]:
                i = r - lo
                t, block["state"][i], block["stage"][i], block["node"][i] = self._amended[r]
                block["t_final"][i] = t
            yield block

    def _read_spill(self, column: str, ci: int) -> np.ndarray:
        dtype = np.dtype(COLUMNS[column])
        return np.fromfile(
            self._spill_dir / column, dtype=dtype, count=CHUNK, offset=ci * CHUNK * dtype.itemsize
        )

    def close(self) -> None:
        """Free the memory and the spill (after the rows were written out)."""
        self._closed = True
        self._chunks = []
        self._stray = Block(0)
        self._stray_slot = {}
        if self._spill_dir is not None:
            shutil.rmtree(self._spill_dir, ignore_errors=True)

    def to_frame(self) -> pd.DataFrame:
        """The whole ledger as a DataFrame, categories named (for small runs and tests: it is all in memory
        at once; a run's Results read it from its Parquet file instead)."""
        parts = [{k: v.copy() for k, v in block.items()} for block in self.blocks()]
        cols = {
            k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, t) for k, t in COLUMNS.items()
        }
        return frame(cols, self)


def frame(cols: dict[str, np.ndarray], ledger: Ledger) -> pd.DataFrame:
    """Columns of ledger rows as a DataFrame with named categories."""
    df = pd.DataFrame(cols)
    df["traffic_class"] = ledger.classes.categorical(df["traffic_class"].to_numpy())
    df["origin"] = ledger.origins.categorical(df["origin"].to_numpy())
    df["node"] = ledger.nodes.categorical(df["node"].to_numpy())
    df["stage"] = ledger.stages.categorical(df["stage"].to_numpy())
    df["state"] = pd.Categorical.from_codes(df["state"].to_numpy().astype(np.int32), categories=list(STATES))
    folder = df["folder"].to_numpy().astype(np.int32)
    folder[df["state"].to_numpy() != "delivered"] = -1  # a folder only where the message is in a mailbox
    df["folder"] = pd.Categorical.from_codes(folder, categories=ledger.folders.names)
    return df


def fingerprint(frame: pd.DataFrame) -> str:
    """A hash of a ledger's content, column by column in ``COLUMNS`` order: the same rows with the same
    values give the same hash, whatever the dtypes, or the order (or unused entries) of a categorical's
    categories."""
    import hashlib

    h = hashlib.sha256()
    for name in COLUMNS:
        col = frame[name]
        h.update(name.encode())
        if isinstance(col.dtype, pd.CategoricalDtype):
            col = col.cat.remove_unused_categories()
            names = np.asarray(col.cat.categories, dtype=object)
            order = np.argsort(names.astype(str), kind="stable")
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
            codes = col.cat.codes.to_numpy()
            h.update("\x1f".join(names[order].astype(str)).encode())
            h.update(np.where(codes < 0, -1, rank[codes]).astype(np.int64).tobytes())
        elif np.issubdtype(col.dtype, np.floating):
            h.update(col.to_numpy(dtype=np.float64).tobytes())
        else:
            h.update(col.to_numpy(dtype=np.int64).tobytes())
    return h.hexdigest()
