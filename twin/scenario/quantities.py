"""Pydantic field types for quantities written with units (durations, sizes, rates)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from twin.units import format_duration, format_size, parse_duration, parse_rate, parse_size


def _schema(pattern_hint: str, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string"}],
            "description": pattern_hint,
            "examples": [example],
        }
    )


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    _schema("duration: number of seconds or 90s, 15m, 2h, 7d, 50ms", "15m"),
]
Size = Annotated[
    float,
    BeforeValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    _schema("size: number of bytes or 512B, 4KB, 10MB (K = 1024)", "4KB"),
]
Rate = Annotated[
    float,
    BeforeValidator(parse_rate),
    PlainSerializer(lambda v: f"{v:.12g}/s", return_type=str),
    _schema("rate: events per second or 2/s, 30/min, 500/h, 1.4M/day", "1.4M/day"),
]
