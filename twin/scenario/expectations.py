"""Expectations: assertions over a run's results, written as a person says them (``expect:`` in a scenario).

    recipients.lost == 0
    incidents[target=store].time_to_drain_s <= 1h
    delivery_latency.all.p95_s <= 60s
    by_stage."sender verify".rejected < 50000
    service_quality.met.deliveries == true

Left: a path into kpis.json: names joined by dots (a name with spaces or dots in double quotes), ``[i]``
for a list item, ``[key=value]`` for the list entries whose ``key`` is ``value``. Then an operator
(``== != < <= > >=``), then a value: a number, a duration (``1h``, compared as seconds), a size (``4KB``,
as bytes), a rate (``2/s``), ``true``/``false``/``null``, or a string in double quotes. A small parser of
its own reads this; nothing a file says is evaluated as Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from twin.scenario.schema import STATES
from twin.units import UnitError, parse_duration, parse_rate, parse_size

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
Segment = str | int | tuple[str, str]  # a key, a list index, or a [key=value] selector

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_INDEX = re.compile(r"\[\s*(\d+)\s*\]")
_SELECT = re.compile(r'\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\]]*?)\s*\]')
_OP = re.compile(r"\s*(==|!=|<=|>=|<|>)\s*")


# The blocks of kpis.json (twin/analysis/kpis.py and the components' own result blocks), with the fields
# of those whose fields are fixed. A test checks these against a real run's kpis.json, so they cannot
# drift apart; a path outside them is a scenario error before the run.
STATE_FIELDS = ("offered", *STATES)
LATENCY_FIELDS = ("count", "mean_s", "max_s", "p50_s", "p90_s", "p95_s", "p99_s")
KPI_BLOCKS: dict[str, tuple[str, ...] | None] = {
    "scenario": (),
    "seed": (),
    "simulated_seconds": (),
    "messages_offered": (),
    "recipients": STATE_FIELDS,
    "conservation_ok": (),
    "conservation": None,
    "by_traffic_class": None,
    "by_stage": None,
    "directions": None,
    "delivery_latency": None,
    "components": None,
    "queues": None,
    "incidents": None,
    "oracle": None,  # per station: queueing theory's predictions beside the run's (analysis/oracle.py)
    "peak_hour": None,  # per class: its hardware and its CPU's and disk's busiest hour (docs/calibration.md)
    "funnel": None,
    "service_quality": None,
    "smtp": None,
    "submission": (
        "transactions",
        "reached_data",
        "temporary_errors_by_stage",
        "replies",
        "replies_within_target",
    ),
    "remote": None,
    "internal": None,
    "mailman": None,
    "balancer": None,
    "mailboxes": None,
    "scanners": None,
    "lmtp_replies": None,
    "lmtp_latency": None,  # per store: all, outside_backup, during_backup (docs/backup.md)
    "storage": None,  # per array (the stores, the SAN): capacity, used, growth, days_left (docs/storage.md)
    "backup": None,  # per TSM server: nights, completed, missed, overrun_max_s, storage (docs/backup.md)
    "clients": None,  # per protocol (imap, pop, webmail: the scenario's names): docs/clients.md
    "quarantine": (
        "held",
        "to_release",
        "released",
        "digests_sent",
        "digest_bytes",
        "expired",
        "retries",
        "in_quarantine_at_end",
        "bytes_at_end",
        "peak_bytes",
    ),
    "sieve": (
        "runs",
        "delivered",
        "discarded",
        "redirected",
        "failed",
        "redirects_sent",
        "vacation_sent",
        "folders",
        "vacation_suppressed",
        "scripts",
    ),
    "replication": (
        "replicated",
        "lag_p50_s",
        "lag_p95_s",
        "lag_max_s",
        "backlog_peak_messages",
        "backlog_at_end",
        "recovered",
        "lost",
        "switchovers",
        "failbacks",
        "serving",
    ),
}


class ExpectationError(ValueError):
    """An expectation that does not parse; the message says where and what was expected."""


@dataclass(frozen=True)
class Expectation:
    text: str
    path: tuple[Segment, ...]
    op: str
    value: Any

    def holds(self, actual: Any) -> bool:
        """Whether ``actual`` (the value the path found) satisfies the expectation."""
        if self.op in ("==", "!="):
            same = _equal(actual, self.value)
            return same if self.op == "==" else not same
        if not is_number(actual) or not is_number(self.value):
            return False  # an ordering needs two numbers: a missing value or text never satisfies it
        return {
            "<": actual < self.value,
            "<=": actual <= self.value,
            ">": actual > self.value,
            ">=": actual >= self.value,
        }[self.op]


def check_path(path: tuple[Segment, ...]) -> None:
    """Refuse a path that cannot exist in kpis.json (ExpectationError)."""
    head = path[0]
    if head not in KPI_BLOCKS:
        raise ExpectationError(f"no {head!r} in the results (expected one of: {', '.join(KPI_BLOCKS)})")
    fields = KPI_BLOCKS[head]
    if fields is not None and len(path) > 1 + (fields != ()):
        raise ExpectationError(
            f"{_dotted(path[: 2 if fields else 1])} holds a single value, nothing below it"
        )
    if fields and len(path) > 1 and path[1] not in fields:
        raise ExpectationError(f"no {path[1]!r} in {head} (expected one of: {', '.join(fields)})")
    if fields and len(path) == 1:
        raise ExpectationError(f"{head} holds several values: name one ({', '.join(fields)})")
    if head == "delivery_latency" and len(path) >= 3 and path[2] not in LATENCY_FIELDS:
        raise ExpectationError(
            f"no {path[2]!r} in a delivery latency (expected one of: {', '.join(LATENCY_FIELDS)})"
        )


def _dotted(path: tuple[Segment, ...]) -> str:
    return ".".join(str(s) for s in path)


def parse_expectation(text: str) -> Expectation:
    if not isinstance(text, str):
        raise ExpectationError(f"expected text such as 'recipients.lost == 0' (got {text!r})")
    path, i = _path(text)
    m = _OP.match(text, i)
    if not m:
        after, got = text[:i].strip(), text[i:].strip()
        raise ExpectationError(f"expected an operator ({' '.join(OPERATORS)}) after {after!r} (got {got!r})")
    value = _value(text[m.end() :].strip())
    check_path(path)
    return Expectation(text.strip(), path, m.group(1), value)


def parse_path(text: str) -> tuple[Segment, ...]:
    """A path of kpis.json alone (``delivery_latency.all.p95_s``), as an expectation's left side."""
    if not isinstance(text, str):
        raise ExpectationError(f"expected a path such as 'recipients.lost' (got {text!r})")
    path, i = _path(text)
    if text[i:].strip():
        raise ExpectationError(f"unexpected {text[i:].strip()!r} after {text[:i].strip()!r}")
    return path


def _path(text: str) -> tuple[tuple[Segment, ...], int]:
    segments: list[Segment] = []
    i = len(text) - len(text.lstrip())
    while True:
        m = _QUOTED.match(text, i) or _NAME.match(text, i)
        if not m:
            raise ExpectationError(f"expected a name of the results at {text[i:].strip()[:30]!r}")
        segments.append(m.group(1).replace('\\"', '"') if m.re is _QUOTED else m.group(0))
        i = m.end()
        while True:
            if mi := _INDEX.match(text, i):
                segments.append(int(mi.group(1)))
            elif ms := _SELECT.match(text, i):
                raw = ms.group(2)
                segments.append((ms.group(1), raw[1:-1] if raw.startswith('"') else raw))
            else:
                break
            i = (mi or ms).end()
        if text.startswith(".", i):
            i += 1
            continue
        return tuple(segments), i


def _value(raw: str) -> Any:
    if not raw:
        raise ExpectationError("expected a value after the operator")
    if m := _QUOTED.fullmatch(raw):
        return m.group(1).replace('\\"', '"')
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("null", "none"):
        return None
    for parse in (float, parse_duration, parse_size, parse_rate):
        try:
            value = parse(raw)
        except (ValueError, UnitError):
            continue
        if value == value and value not in (float("inf"), float("-inf")):
            return value
    raise ExpectationError(
        f"expected a number, a duration (1h), a size (4KB), true, false or a quoted string (got {raw!r})"
    )


def is_number(v: Any) -> bool:
    """A number an order can compare: not a bool, not NaN."""
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_number(a) and is_number(b):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


MISSING = object()


def resolve(data: Any, path: tuple[Segment, ...]) -> list[Any]:
    """The values ``path`` reaches in ``data`` (kpis.json): one, or one per entry a selector picks;
    ``MISSING`` where a key or item does not exist."""
    nodes = [data]
    for seg in path:
        nxt = []
        for node in nodes:
            if isinstance(seg, tuple):
                key, want = seg
                if not isinstance(node, list):
                    nxt.append(MISSING)
                    continue
                picked = [e for e in node if isinstance(e, dict) and _shown(e.get(key, MISSING)) == want]
                nxt.extend(picked or [MISSING])
            elif isinstance(seg, int):
                nxt.append(node[seg] if isinstance(node, list) and seg < len(node) else MISSING)
            else:
                nxt.append(node.get(seg, MISSING) if isinstance(node, dict) else MISSING)
        nodes = nxt
    return nodes


def _shown(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def evaluate(expectation: Expectation, kpis: dict) -> dict:
    """``{"expect", "value", "ok"}``: the value the path found (a list where a selector picked several,
    null where nothing exists there) and whether the expectation holds for every one."""
    values = resolve(kpis, expectation.path)
    ok = all(v is not MISSING and expectation.holds(v) for v in values)
    shown = [None if v is MISSING else v for v in values]
    return {"expect": expectation.text, "value": shown[0] if len(shown) == 1 else shown, "ok": ok}
