"""The ledger: one row per offered recipient, in preallocated numpy columns (DESIGN.md principle 2).

A message's recipients occupy consecutive rows, so every update of a message is one slice assignment.
Strings (traffic classes, stages, node names) are stored as small integer codes into vocabularies.
At 52 bytes a row, 10 M rows take about 520 MB.
"""

from __future__ import annotations

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
    "size": np.int32,  # bytes
    "t_offered": np.float64,  # seconds since clock.start
    "t_accepted": np.float64,  # NaN: never accepted
    "t_final": np.float64,  # NaN: still pending
    "state": np.uint8,  # index into STATES
    "stage": np.uint16,  # where it ended, or where it waits
    "node": np.uint16,  # node it ended at or waits at
    "attempts": np.uint16,  # delivery attempts
    "mailbox": np.int32,  # the recipient's mailbox (index into the population); -1: none or made up
    "spam_score": np.int8,  # PureMessage probability in percent; -1: not scanned
}

# What a row holds before anything happened to it (a new, pending recipient of an original message).
FILL = {
    "parent_id": -1,
    "t_accepted": np.nan,
    "t_final": np.nan,
    "state": PENDING,
    "mailbox": NO_MAILBOX,
    "spam_score": -1,
}


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


class Ledger:
    def __init__(self, capacity: int = 1 << 14):
        self.n = 0
        self.messages = 0
        self.cols = {k: np.full(capacity, FILL.get(k, 0), dtype=t) for k, t in COLUMNS.items()}
        self.classes = Vocabulary()
        self.stages = Vocabulary(["offered"])
        self.nodes = Vocabulary(["(sender)"])  # code 0: not yet taken in by any component
        self.origins = Vocabulary()
        self.double_final = 0  # rows given a terminal state twice: a bug, reported by the conservation check
        self.generated = 0  # rows of messages the platform wrote itself (bounces, warnings, notices)
        # Terminal states written later in one vectorised step (finish_later): first row, rows, time,
        # state, stage, node of each message.
        self._later: tuple[list, ...] = ([], [], [], [], [], [])

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in all."""
        if rows > len(self.cols["msg_id"]):
            self._grow(rows, exact=True)

    def _grow(self, need: int, exact: bool = False) -> None:
        cap = len(self.cols["msg_id"])
        if exact:
            cap = need
        while cap < need:
            cap *= 2
        for k, col in self.cols.items():
            new = np.empty(cap, dtype=col.dtype)
            new[: self.n] = col[: self.n]
            new[self.n :] = FILL.get(k, 0)
            self.cols[k] = new

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
        r0, r1 = self.n, self.n + n
        if r1 > len(self.cols["msg_id"]):
            self._grow(r1)
        c = self.cols
        mid = self.messages
        self.messages += 1
        if n == 1:
            c["msg_id"][r0] = mid
            c["traffic_class"][r0] = traffic_class
            c["origin"][r0] = origin
            c["size"][r0] = size
            c["t_offered"][r0] = t
        else:
            c["msg_id"][r0:r1] = mid
            c["traffic_class"][r0:r1] = traffic_class
            c["origin"][r0:r1] = origin
            c["size"][r0:r1] = size
            c["t_offered"][r0:r1] = t
        if parent != -1:
            c["parent_id"][r0:r1] = parent
            self.generated += n
        if mailboxes is not None:
            c["mailbox"][r0:r1] = mailboxes
        self.n = r1
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
        if r1 > len(self.cols["msg_id"]):
            self._grow(r1)
        starts = r0 + np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        mid0 = self.messages
        c = self.cols
        c["msg_id"][r0:r1] = np.repeat(np.arange(mid0, mid0 + m), counts)
        c["traffic_class"][r0:r1] = np.repeat(traffic_class, counts)
        c["origin"][r0:r1] = origin
        c["size"][r0:r1] = np.repeat(size, counts)
        c["t_offered"][r0:r1] = np.repeat(t, counts)
        c["mailbox"][r0:r1] = mailbox
        c["attempts"][r0:r1] = 1
        self.messages += m
        self.n = r1
        return mid0, starts

    def mailbox_of(self, r: int) -> int:
        """The recipient's mailbox number (-1: none or a made-up address)."""
        return int(self.cols["mailbox"][r])

    def state_of(self, r: int) -> int:
        self.flush()
        return int(self.cols["state"][r])

    def locate_message(self, r0: int, n: int, live: list[int] | None, node: int, stage: int) -> None:
        """``locate`` for a message's recipients still in play: all (``live`` None) or ``live``."""
        if live is None:
            self.locate(r0, n, node, stage)
        else:
            self.locate_rows(live, node, stage)

    def finish_message(
        self, r0: int, n: int, live: list[int] | None, t: float, state: int, stage: int, node: int
    ) -> None:
        """``finish`` for a message's recipients still in play: all (``live`` None) or ``live``."""
        if live is None:
            self.finish(r0, n, t, state, stage, node)
        else:
            self.finish_rows(live, t, state, stage, node)

    def locate(self, r0: int, n: int, node: int, stage: int) -> None:
        if n == 1:
            self.cols["node"][r0] = node
            self.cols["stage"][r0] = stage
        else:
            self.cols["node"][r0 : r0 + n] = node
            self.cols["stage"][r0 : r0 + n] = stage

    # The *_rows methods take a list of rows; one row (most messages have one recipient) is written as a
    # scalar, which numpy does several times faster than a fancy-indexed write.

    def locate_rows(self, rows: list[int], node: int, stage: int) -> None:
        if len(rows) == 1:
            rows = rows[0]
        self.cols["node"][rows] = node
        self.cols["stage"][rows] = stage

    def accept_rows(self, rows: list[int], t: float) -> None:
        self.cols["t_accepted"][rows[0] if len(rows) == 1 else rows] = t

    def set_rows(self, column: str, rows: list[int], value) -> None:
        self.cols[column][rows[0] if len(rows) == 1 else rows] = value

    def finish_rows(self, rows: list[int], t: float, state: int, stage: int, node: int) -> None:
        """``finish`` for recipients that need not be consecutive."""
        if len(rows) == 1:
            self.finish(rows[0], 1, t, state, stage, node)
            return
        c = self.cols
        self.double_final += int(np.count_nonzero(c["state"][rows] != PENDING))
        c["state"][rows] = state
        c["stage"][rows] = stage
        c["node"][rows] = node
        c["t_final"][rows] = t

    def accept(self, r0: int, n: int, t: float) -> None:
        if n == 1:
            self.cols["t_accepted"][r0] = t
        else:
            self.cols["t_accepted"][r0 : r0 + n] = t

    def attempt(self, r0: int, n: int) -> None:
        if n == 1:
            self.cols["attempts"][r0] += 1
        else:
            self.cols["attempts"][r0 : r0 + n] += 1

    def finish(self, r0: int, n: int, t: float, state: int, stage: int, node: int) -> None:
        c = self.cols
        if n == 1:
            if c["state"][r0] != PENDING:
                self.double_final += 1
            c["state"][r0] = state
            c["stage"][r0] = stage
            c["node"][r0] = node
            c["t_final"][r0] = t
            return
        r1 = r0 + n
        self.double_final += int(np.count_nonzero(c["state"][r0:r1] != PENDING))
        c["state"][r0:r1] = state
        c["stage"][r0:r1] = stage
        c["node"][r0:r1] = node
        c["t_final"][r0:r1] = t

    def finish_later(self, r0: int, n: int, t: float, state: int, stage: int, node: int) -> None:
        """``finish``, written at the next ``flush``: for messages nothing else touches afterwards (the
        inbound messages refused at connect, most of the traffic). ``column``, ``to_frame`` and
        ``state_counts`` flush first; code reading ``cols`` directly sees these rows still pending."""
        later = self._later
        later[0].append(r0)
        later[1].append(n)
        later[2].append(t)
        later[3].append(state)
        later[4].append(stage)
        later[5].append(node)

    def flush(self) -> None:
        """Write the terminal states kept by ``finish_later``."""
        later = self._later
        if not later[0]:
            return
        counts = np.asarray(later[1], dtype=np.int64)
        starts = np.repeat(np.asarray(later[0], dtype=np.int64), counts)
        rows = starts + (np.arange(len(starts)) - np.repeat(np.cumsum(counts) - counts, counts))
        c = self.cols
        # Each terminal state given to a row that had one already counts, as in ``finish``.
        distinct = np.unique(rows)
        again = int(np.count_nonzero(c["state"][distinct] != PENDING))
        self.double_final += len(rows) - len(distinct) + again
        c["t_final"][rows] = np.repeat(np.asarray(later[2], dtype=np.float64), counts)
        c["state"][rows] = np.repeat(np.asarray(later[3]), counts)
        c["stage"][rows] = np.repeat(np.asarray(later[4]), counts)
        c["node"][rows] = np.repeat(np.asarray(later[5]), counts)
        self._later = ([], [], [], [], [], [])

    def column(self, name: str) -> np.ndarray:
        self.flush()
        return self.cols[name][: self.n]

    def state_counts(self) -> dict[str, int]:
        counts = np.bincount(self.column("state"), minlength=len(STATES))
        return {s: int(counts[i]) for i, s in enumerate(STATES)}

    @property
    def nbytes(self) -> int:
        return sum(col.itemsize for col in self.cols.values()) * self.n

    def to_frame(self) -> pd.DataFrame:
        df = pd.DataFrame({k: self.column(k).copy() for k in COLUMNS})
        df["traffic_class"] = self.classes.categorical(df["traffic_class"].to_numpy())
        df["origin"] = self.origins.categorical(df["origin"].to_numpy())
        df["node"] = self.nodes.categorical(df["node"].to_numpy())
        df["stage"] = self.stages.categorical(df["stage"].to_numpy())
        df["state"] = pd.Categorical.from_codes(
            df["state"].to_numpy().astype(np.int32), categories=list(STATES)
        )
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
