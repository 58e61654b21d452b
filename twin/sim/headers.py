"""The header fields a message carries in the simulation, as one integer per message (``Message.headers``):
which of the fields Sieve scripts test it has, and which sender wrote it. The workload draws it
(``draw``); the store turns it into the fields a script sees (``components/filters.py``).

Bits 0-3 are flags; the rest is the sender's number among the class's ``senders`` (list mail: the list's
number among its ``lists``). ``GENERATED`` marks a message the platform wrote itself (a bounce, a delay
warning, a notice, a vacation reply): it comes from ``<>``.
"""

from __future__ import annotations

import numpy as np

LIST = 1  # List-Id and Precedence: list; To: the list's address
BULK = 2  # Precedence: bulk
AUTO = 4  # Auto-Submitted: auto-generated
BCC = 8  # the recipient is not in To/Cc
SHIFT = 4
GENERATED = -1


def draw(rng: np.random.Generator, spec, n: int) -> np.ndarray:
    """The header codes of ``n`` messages of a class whose ``Headers`` are ``spec``: each flag with its
    share, the sender (or list) uniform among the class's."""
    u = rng.random((n, 4))
    flags = (
        (u[:, 0] < spec.list) * LIST
        + (u[:, 1] < spec.bulk) * BULK
        + (u[:, 2] < spec.auto_submitted) * AUTO
        + (u[:, 3] < spec.bcc) * BCC
    )
    who = rng.integers(0, spec.senders, n)
    listed = (flags & LIST) > 0
    who[listed] %= spec.lists
    return (who << SHIFT) | flags
