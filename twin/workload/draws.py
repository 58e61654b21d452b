"""What the inbound and submission workloads draw alike for a class of messages: its hourly rate, and
per message the number of recipients, the size, the spam score, the attachment's file name
(``sim/attachments.py``) and the header fields (``sim/headers.py``), each from a stream of its own
(``workload.<source>.<class>.<what>``)."""

from __future__ import annotations

import numpy as np

from twin.sim import attachments, headers


class ClassDraws:
    """The random streams of one class of messages offered at ``rate`` messages a second on average, shaped
    by the class's diurnal curve (``hourly``: messages per second by local hour)."""

    def __init__(self, streams, base: str, name: str, spec, rate: float):
        self.name = name
        self.spec = spec
        diurnal = np.asarray(spec.diurnal, dtype=float)
        self.hourly = rate * diurnal / diurnal.mean()
        self.arrivals = streams.generator(f"{base}.arrivals")
        self.flags = streams.generator(f"{base}.flags")
        self.recipients = streams.generator(f"{base}.recipients")
        self.size = streams.generator(f"{base}.size")
        self.spam = streams.generator(f"{base}.spam_score")
        self.headers = streams.generator(f"{base}.headers")
        self.attachments = streams.generator(f"{base}.attachments")
        self._count = spec.recipients.draw_fn(self.recipients)
        self._size = spec.size.draw_fn(self.size)
        self._score = spec.spam_score.draw_fn(self.spam)

    def counts(self, n: int) -> np.ndarray:
        """Recipients of ``n`` messages (draws rounded up to a whole number >= 1)."""
        return np.maximum(1, np.ceil(self._count(n))).astype(np.int64)

    def contents(self, n: int, u: np.ndarray) -> dict[str, np.ndarray]:
        """Size, spam score, attachment (``sim/attachments.py``) and header fields (``sim/headers.py``) of
        ``n`` messages (``u``: a uniform draw each, whether it has an attachment)."""
        att = self.spec.attachments
        return {
            "attachment": attachments.file_names(self.attachments, att, u < att.share),
            "headers": headers.draw(self.headers, self.spec.headers, n),
            "size": np.maximum(0, self._size(n)).astype(np.int64),
            "spam": np.clip(np.rint(self._score(n)), 0, 100).astype(np.int64),
        }


def in_order(values: list[np.ndarray], counts: list[np.ndarray], order: np.ndarray) -> np.ndarray:
    """Per-recipient values of the messages of several batches (``values[k]`` holds batch k's recipients,
    message after message, ``counts[k]`` its messages' recipient counts), message after message in
    ``order`` (an order of the concatenated messages)."""
    v = np.concatenate(values)
    c = np.concatenate(counts)
    first = np.concatenate(([0], np.cumsum(c)[:-1]))  # each message's first recipient in ``v``
    c, first = c[order], first[order]
    within = np.arange(int(c.sum())) - np.repeat(np.cumsum(c) - c, c)
    return v[np.repeat(first, c) + within]


def any_per_message(flags: np.ndarray, counts: np.ndarray) -> list[bool]:
    """Per message (recipients in ``counts``, message after message): whether any of its recipients'
    ``flags`` is set."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return (np.add.reduceat(flags, starts) > 0).tolist()
