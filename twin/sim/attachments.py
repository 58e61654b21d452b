"""The attachment a message carries and the stage-5 check of its file name (seed §3.1 step 5;
docs/inbound.md). The workload draws it (``file_names``); the frontends check it (``held``).

After the virus scan, PureMessage looks at each attachment's file name: a name whose extension is on the
seed's list (January 2010: ade, adpx, …, xsl; ``policies.attachments.extensions``), or a name with more
spaces than ``spaces_max`` (the trick of hiding the real extension behind a run of spaces, ``invoice.pdf
<many spaces>.exe``), is held back and the recipients are told.

The workload draws each message's attachment as its file name (``file_names``; ``""`` for none): a stem
(``STEMS``, some with a space or two, as people name files), an extension from the class's
``extensions``, and for some a decoy and a run of spaces; ``held`` runs the check on the name itself.
"""

from __future__ import annotations

import numpy as np

# File name stems: what people call their files, some with ordinary spaces.
STEMS = ("document", "Rechnung 2010", "photo", "Bericht final v2", "scan0042", "CV", "slides", "data")
DECOY = "pdf"  # the extension a padded name shows before its run of spaces
PADDING = 40  # spaces between the decoy and the real extension
REASONS = ("listed extension", "spaces in the file name")  # why ``held`` holds a file


def file_names(rng: np.random.Generator, spec, has: np.ndarray) -> np.ndarray:
    """The attachment's file name of each message (``has``: whether it carries one; ``""`` for none): a
    stem, an extension drawn by the class's ``extensions`` weights, and for a share ``spaces`` of them a
    decoy extension and a run of spaces before the real one."""
    n = len(has)
    names = np.full(n, "", dtype=object)
    k = int(np.count_nonzero(has))
    if not k:
        return names
    extensions = list(spec.extensions)
    weights = np.asarray(list(spec.extensions.values()), dtype=float)
    ext = np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(k), side="right")
    ext = np.minimum(ext, len(weights) - 1).tolist()
    padded = (rng.random(k) < spec.spaces).tolist()
    stem = rng.integers(0, len(STEMS), k).tolist()
    names[has] = [
        f"{STEMS[s]}.{DECOY}{' ' * PADDING}.{extensions[e]}" if p else f"{STEMS[s]}.{extensions[e]}"
        for s, e, p in zip(stem, ext, padded, strict=True)
    ]
    return names


def held(name: str, listed: frozenset[str], spaces_max: int) -> str | None:
    """Why the attachment ``name`` is held back (None: it passes): its extension (after the last dot,
    compared without case and surrounding space) is listed, or the name has more than ``spaces_max``
    spaces."""
    extension = name.rsplit(".", 1)[1].strip().lower() if "." in name else ""
    if extension in listed:
        return REASONS[0]
    if name.count(" ") > spaces_max:
        return REASONS[1]
    return None
