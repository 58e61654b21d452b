"""Exim's retry rules and retry hints database, as Exim 4.6x implements them.

Sources (checked against the code, not paraphrased from memory):
- Exim specification, chapter "Retry configuration" (rule syntax; per-host records for connection and host
  errors, per-address records for 4xx replies to RCPT; long-term failures; the ultimate address timeout),
  and the smtp transport's ``delay_after_cutoff``.
- ``src/retry.c``: ``retry_update`` (the next-try computation below, including the G and H formulas and
  the "message older than the final cutoff" rule) and ``retry_check_address`` (when a host is usable).
Times are seconds. The same objects drive the simulated frontends' queues and ``mailtwin retry-schedule``
(``twin.exim.queue``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

from twin.units import UnitError, format_duration, parse_duration

RETRY_INTERVAL_MAX = 24 * 3600.0  # Exim default of retry_interval_max
RETRY_DATA_EXPIRE = 7 * 86400.0  # Exim default of retry_data_expire


def exim_time(t: float) -> int:
    """Exim's clock: whole seconds (time(NULL)). Also keeps float drift in simulated time from deciding
    a cutoff boundary."""
    return math.floor(t + 1e-6)


class RetryConfigError(ValueError):
    """A retry rule or line that Exim would refuse; the message says what is wrong."""


@dataclass(frozen=True)
class RetryRule:
    """One algorithm of a retry line: ``F,<cutoff>,<interval>`` or ``G|H,<cutoff>,<interval>,<factor>``."""

    kind: str  # "F", "G" or "H"
    cutoff: float  # applies while the destination has been failing for at most this long
    interval: float  # F: the fixed interval; G/H: the starting (minimum) interval
    factor: float = 1.0  # G/H: multiplier of the last gap

    def __str__(self) -> str:
        base = f"{self.kind},{format_duration(self.cutoff)},{format_duration(self.interval)}"
        return base if self.kind == "F" else f"{base},{self.factor:g}"

    @property
    def factor_millis(self) -> int:
        # retry.c keeps the multiplier as an integer number of thousandths.
        return round(self.factor * 1000)


# Not Exim's limit but the simulation's: a rule that retries one message more often than this would take
# the run forever (F,5d,1us).
MAX_TRIES = 100_000

_RULE = re.compile(r"^\s*([FGH])\s*,\s*([^,;]+?)\s*,\s*([^,;]+?)\s*(?:,\s*([^,;]+?)\s*)?$")


def parse_rules(text: str) -> tuple[RetryRule, ...]:
    """``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` -> rules. Cutoffs must increase, as Exim requires."""
    rules = []
    for i, part in enumerate(p for p in text.split(";") if p.strip()):
        m = _RULE.match(part)
        if not m:
            raise RetryConfigError(
                f"rule {i + 1} {part.strip()!r}: expected F,<cutoff>,<interval> "
                "or G|H,<cutoff>,<interval>,<factor>"
            )
        kind, cutoff, interval, factor = m.groups()
        try:
            cutoff_s, interval_s = parse_duration(cutoff), parse_duration(interval)
        except UnitError as exc:
            raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: {exc}") from None
        if kind == "F" and factor is not None:
            raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: an F rule takes no multiplier")
        if kind in "GH":
            if factor is None:
                raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: a {kind} rule needs a multiplier")
            try:
                mult = float(factor)
            except ValueError:
                raise RetryConfigError(
                    f"rule {i + 1} {part.strip()!r}: multiplier {factor!r} is not a number"
                ) from None
            if mult <= 0:
                raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: the multiplier must be positive")
        else:
            mult = 1.0
        if cutoff_s <= 0:
            raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: the cutoff must be positive")
        if interval_s <= 0:
            raise RetryConfigError(f"rule {i + 1} {part.strip()!r}: the interval must be positive")
        since = rules[-1].cutoff if rules else 0.0
        tries = (cutoff_s - since) / interval_s
        if mult <= 1 and tries > MAX_TRIES:
            shortest = format_duration(math.ceil((cutoff_s - since) / MAX_TRIES))
            raise RetryConfigError(
                f"rule {i + 1} {part.strip()!r}: {tries:,.0f} tries of one message; "
                f"at most {MAX_TRIES:,} (an interval of at least {shortest})"
            )
        if rules and cutoff_s <= rules[-1].cutoff:
            raise RetryConfigError(
                f"rule {i + 1} {part.strip()!r}: cutoff times must increase "
                f"({format_duration(cutoff_s)} after {format_duration(rules[-1].cutoff)})"
            )
        rules.append(RetryRule(kind, cutoff_s, interval_s, mult))
    if not rules:
        raise RetryConfigError("no retry rules: Exim would treat every temporary error as permanent")
    return tuple(rules)


@dataclass(frozen=True)
class RetryLine:
    """A line of Exim's retry section: ``<pattern> <error> <rules>``, e.g. ``* * F,2h,15m; G,16h,1h,1.5``."""

    pattern: str
    error: str
    rules: tuple[RetryRule, ...]

    @property
    def final_cutoff(self) -> float:
        return self.rules[-1].cutoff

    def __str__(self) -> str:
        return f"{self.pattern} {self.error} " + "; ".join(str(r) for r in self.rules)


def parse_retry_line(text: str) -> RetryLine:
    """A full line (pattern, error, rules) or just the rules (taken as ``* *``)."""
    stripped = text.strip()
    if stripped[:1] in ("F", "G", "H") and "," in stripped.split()[0]:
        return RetryLine("*", "*", parse_rules(stripped))
    parts = stripped.split(None, 2)
    if len(parts) < 3:
        raise RetryConfigError(f"{text!r}: expected '<pattern> <error> <rules>' or just rules")
    return RetryLine(parts[0], parts[1], parse_rules(parts[2]))


@dataclass
class RetryRecord:
    """One entry of Exim's retry hints database."""

    first_failed: float
    last_try: float
    next_try: float
    expired: bool = False
    time_stamp: float = 0.0  # when it was last written (retry_data_expire counts from here)
    rule: RetryRule | None = None  # the rule that set next_try (None: the message timed out)


class Check(Enum):
    """What a delivery run may do with one destination of one message, before any attempt."""

    ATTEMPT = "attempt"
    DEFER = "retry time not reached"
    FAIL_AFTER_CUTOFF = "retry time not reached for any host after a long failure period"
    FAIL_TRIED_SINCE_ARRIVAL = (
        "all hosts have been failing for a long time and were last tried after this message arrived"
    )


@dataclass
class RetryDatabase:
    """Exim's retry hints: one record per failing host (connection and host errors) or address (4xx to RCPT),
    shared by every message for that host or address. Keys are the caller's: the frontends use
    ``("host", name)`` for hosts and the mailbox number (an int) for addresses."""

    line: RetryLine
    retry_interval_max: float = RETRY_INTERVAL_MAX
    retry_data_expire: float = RETRY_DATA_EXPIRE
    delay_after_cutoff: bool = True
    rng: object = None  # a numpy Generator from the stream helper; needed only by H rules
    records: dict = field(default_factory=dict)

    def record(self, key, now: float) -> RetryRecord | None:
        now = exim_time(now)
        rec = self.records.get(key)
        if rec is not None and now - rec.time_stamp > self.retry_data_expire:
            del self.records[key]  # too old to be believed (retry_data_expire)
            return None
        return rec

    def check(self, key, now: float, received: float) -> Check:
        """retry_check_address for a one-host destination, plus delay_after_cutoff once it has expired."""
        now, received = exim_time(now), exim_time(received)
        rec = self.record(key, now)
        if rec is None or now >= rec.next_try:
            return Check.ATTEMPT
        if not rec.expired:
            # The ultimate address timeout: a message on the queue longer than the final cutoff is tried
            # even before the retry time, so that it can time out.
            if now - received > self.line.final_cutoff:
                return Check.ATTEMPT
            return Check.DEFER
        if self.delay_after_cutoff:
            return Check.FAIL_AFTER_CUTOFF
        # delay_after_cutoff false: try hosts not tried since the message arrived, else fail.
        return Check.ATTEMPT if rec.last_try < received else Check.FAIL_TRIED_SINCE_ARRIVAL

    def failed(self, key, now: float, received: float, host_error: bool = True) -> bool:
        """retry_update for a temporary failure at ``now``. True: the address has timed out (bounce it)."""
        now, received = exim_time(now), exim_time(received)
        rec = self.record(key, now)
        if rec is None:
            rec = RetryRecord(first_failed=now, last_try=now, next_try=now)
            self.records[key] = rec
        failing = now - rec.first_failed
        message_age = now - received
        if not host_error and message_age > failing:
            failing = message_age  # an address error counts from the message's arrival if that is earlier
        rules = self.line.rules
        rule = next((r for r in rules if failing <= r.cutoff), None)
        timed_out = False
        if rule is not None:
            rec.expired = False
        else:
            rule = rules[-1]
            rec.expired = True
            timed_out = True
        if received <= rec.first_failed and not rec.expired and now - received > self.line.final_cutoff:
            timed_out = True  # on the queue longer than the maximum retry time
            rule = None
        if rule is None:
            next_try = now  # so that the next message for this destination is tried at once
        elif rule.kind == "F":
            next_try = now + rule.interval
        else:
            last_gap = min(rec.next_try - rec.last_try, now - rec.last_try)
            next_gap = math.floor(last_gap * rule.factor_millis / 1000)
            if rule.kind == "G":
                next_try = now + (rule.interval if last_gap < rule.interval else next_gap)
            else:
                next_try = now + rule.interval
                if next_gap > rule.interval:
                    spread = int(next_gap - rule.interval)
                    next_try += int(self.rng.integers(0, spread)) // 2 + spread // 2
        next_try = min(next_try, now + self.retry_interval_max)
        rec.rule = rule
        rec.last_try = now
        rec.next_try = next_try
        rec.time_stamp = now
        return timed_out

    def succeeded(self, key) -> None:
        self.records.pop(key, None)
