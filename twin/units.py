"""Quantities as people write them in scenario files: ``90s``, ``15m``, ``4KB``, ``1.4M/day``.

Internally the twin works in seconds, bytes and events per second. Sizes use binary multiples
(``1KB`` = 1024 bytes) as Exim's own configuration does for ``K``/``M`` suffixes.
"""

from __future__ import annotations

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
_SIZE_RE = re.compile(rf"^{_NUMBER}\s*(?P<unit>[A-Za-z]*)$")
_RATE_RE = re.compile(rf"^{_NUMBER}\s*(?P<suffix>[kM]?)\s*/\s*(?P<per>[a-z]+)$")


class UnitError(ValueError):
    """A quantity string that does not parse; the message says what was expected."""


def _parse(value: object, pattern: re.Pattern, convert, expected: str) -> float:
    """A bare number is taken as it is; a string must match ``pattern`` and ``convert`` its match
    (returning None for a unit it does not know)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        m = pattern.match(value.strip())
        result = convert(m) if m else None
        if result is not None:
            return result
    raise UnitError(f"expected {expected} (got {value!r})")


def parse_duration(value: object) -> float:
    """Seconds from ``90s``, ``15m``, ``2h``, ``7d``, ``50ms`` or a bare number (seconds)."""

    def convert(m):
        factor = DURATION_UNITS.get(m["unit"] or "s")
        return None if factor is None else float(m["num"]) * factor

    return _parse(value, _DURATION_RE, convert, "a duration such as 90s, 15m, 2h or 7d")


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


def format_duration(seconds: float) -> str:
    """The largest unit that spells a duration as a whole number (``7d``, ``90s``) for resolved files."""
    for unit in ("d", "h", "m", "s", "ms", "us"):
        n = seconds / DURATION_UNITS[unit]
        if abs(n) >= 1 and abs(n - round(n)) < 1e-9:
            return f"{round(n)}{unit}"
    return f"{seconds:g}s"


def format_size(nbytes: float) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        n = nbytes / factor
        if n >= 1 and abs(n - round(n, 6)) < 1e-9:
            return f"{round(n, 6):g}{unit}"
    return f"{nbytes:g}B"
