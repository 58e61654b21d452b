"""Pydantic field types for quantities written with units (durations, sizes, rates)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from twin.units import (
    DURATION_PATTERN,
    RATE_PATTERN,
    SIZE_PATTERN,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)


def _schema(pattern_hint: str, example: str, pattern: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": pattern}],
            "description": pattern_hint,
            "examples": [example],
        }
    )


def _no_bool(what: str):
    def check(v):
        if isinstance(v, bool):  # YAML's true is not 1
            raise ValueError(f"expected {what} (got {v!r})")
        return v

    return BeforeValidator(check)


Count = Annotated[int, _no_bool("a whole number")]
Real = Annotated[float, _no_bool("a number")]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _schema("duration: number of seconds or 90s, 15m, 2h, 7d, 50ms, 1d2h", "15m", DURATION_PATTERN),
]
Size = Annotated[
    float,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    _schema("size: number of bytes or 512B, 4KB, 10MB (K = 1024)", "4KB", SIZE_PATTERN),
]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(format_rate, return_type=str),
    _schema("rate: events per second or 2/s, 30/min, 500/h, 1.4M/day", "1.4M/day", RATE_PATTERN),
]
