"""Quantities as people write them in scenario files: ``90s``, ``15m``, ``4KB``, ``1.4M/day``.

Internally the twin works in seconds, bytes and events per second. Sizes use binary multiples
(``1KB`` = 1024 bytes) as Exim's own configuration does for ``K``/``M`` suffixes.
"""

from __future__ import annotations

import math
import re

_NUMBER = r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"

DURATION_UNITS = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
}
SIZE_UNITS = {
    "b": 1,
    "kb": 1024,
    "kib": 1024,
    "mb": 1024**2,
    "mib": 1024**2,
    "gb": 1024**3,
    "gib": 1024**3,
    "tb": 1024**4,
    "tib": 1024**4,
}
RATE_PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "m": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
COUNT_SUFFIXES = {"": 1.0, "k": 1e3, "M": 1e6}

_DURATION_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[a-z]*)$")
_DURATION_PART = re.compile(r"(?P<num>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]+)\s*")
_COMPOUND_RE = re.compile(r"^[+]?(?:(?:\d+(?:\.\d*)?|\.\d+)\s*[a-z]+\s*){2,}$")
_SIZE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[A-Za-z]*)$")
_RATE_RE = re.compile(rf"^{_NUMBER}\s*(?P<suffix>[kM]?)\s*/\s*(?P<per>[a-z]+)$")


def _alternatives(names) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


# The same grammar as JSON Schema patterns (ECMA-262 regexes: no named groups, no flags), for editors.
_NUM = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_UNIT = f"({_alternatives(DURATION_UNITS)})"
DURATION_PATTERN = rf"^\s*({_NUM}\s*{_UNIT}?|\+?((\d+(\.\d*)?|\.\d+)\s*{_UNIT}\s*){{2,}})\s*$"
SIZE_PATTERN = (
    rf"^\s*{_NUM}\s*("
    + "|".join(
        "".join(f"[{c.lower()}{c.upper()}]" for c in u) for u in sorted(SIZE_UNITS, key=len, reverse=True)
    )
    + r")?\s*$"
)
RATE_PATTERN = rf"^\s*{_NUM}\s*[kM]?\s*/\s*({_alternatives(RATE_PERIODS)})\s*$"


class UnitError(ValueError):
    """A quantity string that does not parse; the message says what was expected."""


class LongNumber(str):
    """A number written with more digits than Python converts (a YAML integer of thousands of digits):
    kept as its text, and shown as its length in messages."""

    def __repr__(self) -> str:
        return f"a number of {len(self.lstrip('+-'))} digits"


def _finite(x: float, value: object) -> float:
    if math.isfinite(x):
        return x
    raise UnitError(f"must be a finite number (got {value!r})")


def _parse(value: object, pattern: re.Pattern, convert, expected: str) -> float:
    """A bare number is taken as it is; a string must match ``pattern`` and ``convert`` its match
    (returning None for a unit it does not know). Infinite and NaN results are refused: nothing can be
    simulated with them (``.inf``, ``1e400s``)."""
    if isinstance(value, LongNumber):
        raise UnitError(f"must be a finite number (got {value!r})")
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return _finite(float(value), value)
        except OverflowError:
            raise UnitError(f"must be a finite number (got {LongNumber(value)!r})") from None
    if isinstance(value, str):
        m = pattern.match(value.strip())
        result = convert(m) if m else None
        if result is not None:
            return _finite(result, value)
    raise UnitError(f"expected {expected} (got {value!r})")


_DURATION_ORDER = ("w", "d", "h", "m", "min", "s", "ms", "us")


def _compound(text: str) -> float | None:
    """Seconds of ``1d2h``, ``1h30m``, ``2m30s``: parts with units from the largest down, each unit once."""
    if not _COMPOUND_RE.match(text):
        return None
    total, last = 0.0, -1
    for m in _DURATION_PART.finditer(text.lstrip("+")):
        unit = m["unit"]
        if unit not in DURATION_UNITS:
            return None
        rank = _DURATION_ORDER.index(unit)
        if rank <= last or (unit == "min" and last == _DURATION_ORDER.index("m")):
            return None
        last = rank
        total += float(m["num"]) * DURATION_UNITS[unit]
    return total


def parse_duration(value: object) -> float:
    """Seconds from ``90s``, ``15m``, ``2h``, ``7d``, ``50ms``, ``1d2h``, ``1h30m`` or a bare number
    (seconds)."""

    def convert(m):
        factor = DURATION_UNITS.get(m["unit"] or "s")
        return None if factor is None else float(m["num"]) * factor

    if isinstance(value, str) and not _DURATION_RE.match(value.strip()):
        seconds = _compound(value.strip())
        if seconds is not None:
            return _finite(seconds, value)
    return _parse(value, _DURATION_RE, convert, "a duration such as 90s, 15m, 2h, 7d or 1d2h")


def parse_size(value: object) -> float:
    """Bytes from ``4KB``, ``10MB``, ``512B`` or a bare number (bytes); K = 1024."""

    def convert(m):
        factor = SIZE_UNITS.get(m["unit"].lower() or "b")
        return None if factor is None else float(m["num"]) * factor

    return _parse(value, _SIZE_RE, convert, "a size such as 512B, 4KB or 10MB")


def parse_rate(value: object) -> float:
    """Events per second from ``100/s``, ``30/min``, ``5/h``, ``1.4M/day`` or a bare number (per second)."""

    def convert(m):
        period = RATE_PERIODS.get(m["per"])
        return None if period is None else float(m["num"]) * COUNT_SUFFIXES[m["suffix"]] / period

    return _parse(value, _RATE_RE, convert, "a rate such as 2/s, 30/min, 500/h or 1.4M/day")


def _exact(x: float) -> str:
    """A number as text that reads back as exactly the same float."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def format_duration(seconds: float) -> str:
    """The largest unit that spells a duration as a whole number (``7d``, ``90s``) for resolved files;
    otherwise exact seconds."""
    if not math.isfinite(seconds):
        return repr(seconds)
    for unit in ("d", "h", "m", "s", "ms", "us"):
        if unit in ("ms", "us") and abs(seconds) >= 1:
            break
        n = seconds / DURATION_UNITS[unit]
        if abs(n) >= 1 and float(n).is_integer() and n * DURATION_UNITS[unit] == seconds:
            return f"{round(n)}{unit}"
    return f"{_exact(seconds)}s"


def format_size(nbytes: float) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        n = nbytes / factor
        if n >= 1 and float(n).is_integer():
            return f"{round(n)}{unit}"
    return f"{_exact(nbytes)}B"


def format_rate(per_second: float) -> str:
    return f"{_exact(per_second)}/s"
