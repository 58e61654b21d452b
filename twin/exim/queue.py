"""What Exim does with a message on its queue: delivery runs under the retry rules, delay warnings, and
the schedule preview of ``mailtwin retry-schedule``.

Sources: ``src/deliver.c`` (the delivery run of one message; the number of delay warnings due after a
given time on the queue, and when one is sent: only at the end of a delivery run in which a delivery was
really attempted, ``delivery_attempted``, and that left addresses deferred) and the Exim specification
(``delay_warning``).

The simulated frontends (``twin/components/frontend.py``) and ``retry_schedule`` both call
``delivery_run``; neither has its own copy of the logic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum

from twin.exim.retry import (
    RETRY_DATA_EXPIRE,
    RETRY_INTERVAL_MAX,
    Check,
    RetryConfigError,
    RetryDatabase,
    RetryLine,
)
from twin.units import UnitError, parse_duration


def warnings_due(queue_time: float, times: tuple[float, ...]) -> int:
    """How many delay warnings a message should have had after ``queue_time`` (deliver.c): one per listed
    time passed, then one every (last - second last) interval, or every last time if only one is given."""
    if not times or queue_time < times[0]:
        return 0
    count = sum(1 for t in times if queue_time >= t)
    if count < len(times):
        return count
    last_gap = times[-1] - (times[-2] if len(times) > 1 else 0.0)
    return count + int((queue_time - times[-1]) // last_gap)


def parse_delay_warning(text: str | float | None) -> tuple[float, ...]:
    """``24h`` or ``4h:8h:24h``; ``0`` switches warnings off, as in Exim."""
    if text is None:
        return ()
    try:
        times = tuple(parse_duration(p) for p in str(text).split(":") if p.strip())
    except UnitError as exc:
        raise RetryConfigError(f"delay_warning: {exc}") from None
    if times in ((), (0.0,)):
        return ()
    if times[0] <= 0 or any(b <= a for a, b in itertools.pairwise(times)):
        raise RetryConfigError(f"delay_warning times must be positive and increase (got {text!r})")
    return times


@dataclass(slots=True)
class QueuedMessage:
    """What Exim keeps per message on a frontend's spool that matters for retries and warnings."""

    received: float
    warn: bool = True  # delay warnings: not for bounces (<> sender), list, bulk or auto-submitted mail
    warnings_sent: int = 0

    def warning_due(self, now: float, times: tuple[float, ...]) -> bool:
        """After a delivery run that attempted a delivery and left the message deferred: send one warning
        if fewer were sent than are due by now (several overdue thresholds still give one warning, as in
        deliver.c). A run that skipped the message (retry time not reached) must not ask."""
        if not self.warn or not times:
            return False
        due = warnings_due(now - self.received, times)
        if due > self.warnings_sent:
            self.warnings_sent = due
            return True
        return False


class Step(Enum):
    DELIVER = "deliver"  # connected: hand the message over
    DEFERRED = "deferred"  # still waiting on the spool
    BOUNCE = "bounce"  # the address has failed: bounce it


@dataclass(slots=True)
class RunResult:
    step: Step
    target: object = None  # with DELIVER: the instance connected to
    reason: str | None = None  # with BOUNCE
    attempted: bool = False  # a connection was tried
    retry_time_not_reached: bool = False
    warn: bool = False  # with DEFERRED after an attempt: a delay warning is due now


def delivery_run(db: RetryDatabase, key, msg: QueuedMessage, now: float, connect, warning_times) -> RunResult:
    """One delivery run of one message to one destination, as Exim's deliver/transport do it.

    ``connect()`` returns the instance connected to, or None if the connection was refused. The
    simulated frontends and ``retry_schedule`` both call this; neither has its own copy of the logic.
    """
    if key in db.records:  # without a record, ``check`` would say ATTEMPT
        check = db.check(key, now, msg.received)
        if check is Check.DEFER:
            return RunResult(Step.DEFERRED, retry_time_not_reached=True)  # no attempt: no warning
        if check is not Check.ATTEMPT:
            return RunResult(Step.BOUNCE, reason=check.value)
    return connected(db, key, msg, now, connect(), warning_times)


def connected(db: RetryDatabase, key, msg: QueuedMessage, now: float, target, warning_times) -> RunResult:
    """The rest of ``delivery_run`` once the connection has been tried (``target``: the instance reached,
    or None): for a caller that knows the retry time has come and connects itself."""
    if target is not None:
        db.succeeded(key)
        return RunResult(Step.DELIVER, target=target, attempted=True)
    if db.failed(key, now, msg.received):
        return RunResult(Step.BOUNCE, reason="retry timeout exceeded", attempted=True)
    return RunResult(Step.DEFERRED, attempted=True, warn=msg.warning_due(now, warning_times))


@dataclass
class Schedule:
    rule: str
    queue_interval: float
    attempts: list[float]
    next_try: list[float]
    delay_warnings: list[float]
    bounce: float | None
    bounce_reason: str | None
    skipped_runs: int

    def as_json(self) -> dict:
        minutes = lambda xs: [round(x / 60, 4) for x in xs]  # noqa: E731
        return {
            "rule": self.rule,
            "queue_interval_s": self.queue_interval,
            "attempts_min": minutes(self.attempts),
            "next_try_min": minutes(self.next_try),
            "delay_warnings_min": minutes(self.delay_warnings),
            "bounce_min": None if self.bounce is None else round(self.bounce / 60, 4),
            "bounce_reason": self.bounce_reason,
        }


def retry_schedule(
    line: RetryLine,
    queue_interval: float,
    delay_warning: tuple[float, ...] = (24 * 3600.0,),
    host_failing_since: float | None = None,
    horizon: float = 10 * 86400.0,
    delay_after_cutoff: bool = True,
    retry_interval_max: float = RETRY_INTERVAL_MAX,
    retry_data_expire: float = RETRY_DATA_EXPIRE,
    rng=None,
) -> Schedule:
    """One message to a destination whose every attempt fails with a temporary host error.

    The message arrives at 0 and gets its immediate delivery run then; queue runs follow at multiples of
    ``queue_interval``. ``host_failing_since`` seconds before 0 the host failed once already. Each run
    asks the same RetryDatabase and QueuedMessage the simulated frontends use.
    """
    db = RetryDatabase(line, retry_interval_max, retry_data_expire, delay_after_cutoff, rng)
    key = ("host", "destination")
    if host_failing_since is not None:
        db.failed(key, -host_failing_since, received=-host_failing_since)
    msg = QueuedMessage(received=0.0)
    attempts: list[float] = []
    next_try: list[float] = []
    warnings: list[float] = []
    skipped = 0
    run = 0
    while True:
        now = run * queue_interval
        if now > horizon:
            return Schedule(str(line), queue_interval, attempts, next_try, warnings, None, None, skipped)
        result = delivery_run(db, key, msg, now, lambda: None, delay_warning)  # every connection refused
        if result.attempted:
            attempts.append(now)
        if result.step is Step.BOUNCE:
            return Schedule(
                str(line), queue_interval, attempts, next_try, warnings, now, result.reason, skipped
            )
        if result.attempted:
            next_try.append(db.records[key].next_try)
        skipped += result.retry_time_not_reached
        if result.warn:
            warnings.append(now)
        run += 1
