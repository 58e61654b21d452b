"""Exim's retry rules and hints database against the documented behaviour (spec ch. "Retry configuration",
retry.c, deliver.c, smtp transport delay_after_cutoff)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from twin.exim.queue import QueuedMessage, parse_delay_warning, retry_schedule, warnings_due
from twin.exim.retry import Check, RetryConfigError, RetryDatabase, parse_retry_line, parse_rules

M, H, D = 60.0, 3600.0, 86400.0
EXIM_DEFAULT = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"


def attempts(rules, q=5 * M, **kw):
    return retry_schedule(parse_retry_line(rules), q, **kw)


def test_parsing_reads_exims_syntax_and_full_lines():
    line = parse_retry_line("* * " + EXIM_DEFAULT)
    assert [(r.kind, r.cutoff, r.interval, r.factor) for r in line.rules] == [
        ("F", 2 * H, 15 * M, 1.0),
        ("G", 16 * H, 1 * H, 1.5),
        ("F", 4 * D, 6 * H, 1.0),
    ]
    assert str(line) == "* * " + EXIM_DEFAULT
    assert parse_retry_line(EXIM_DEFAULT) == line


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("F,2h", "expected F,<cutoff>,<interval>"),
        ("G,2h,15m", "a G rule needs a multiplier"),
        ("F,2h,15m,2", "an F rule takes no multiplier"),
        ("F,2h,15m; F,1h,5m", "cutoff times must increase (1h after 2h)"),
        ("F,2h,0s", "the interval must be positive"),
        ("G,2h,15m,x", "multiplier 'x' is not a number"),
        ("F,2 fortnights,15m", "expected a duration"),
        ("", "no retry rules"),
    ],
)
def test_bad_rules_say_what_is_wrong(text, message):
    with pytest.raises(RetryConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rules(text)


def test_f_rule_retries_at_fixed_intervals():
    s = attempts("F,1d,15m", q=5 * M, horizon=3 * H, delay_warning=())
    assert s.attempts[:6] == [0, 15 * M, 30 * M, 45 * M, 60 * M, 75 * M]
    # With a 1-hour cutoff the message itself passes the final cutoff at 60 min: the next run (65 min)
    # tries it before its retry time and times it out (the ultimate address timeout).
    s = attempts("F,1h,15m", q=5 * M, horizon=3 * H, delay_warning=())
    assert s.attempts == [0, 15 * M, 30 * M, 45 * M, 60 * M, 65 * M] and s.bounce == 65 * M


def test_g_rule_grows_from_the_smaller_of_planned_and_actual_gap():
    # Queue runs every 30 s meet the retry times exactly: 1h, 1.5h, 2.25h, 3.375h.
    s = attempts("G,1d,1h,1.5", q=30.0, horizon=10 * H, delay_warning=())
    gaps = np.diff(s.attempts)
    assert list(gaps[:4]) == [1 * H, 1.5 * H, 2.25 * H, 3.375 * H]
    # With 30-minute runs the actual gap exceeds the planned one; Exim multiplies the planned gap.
    s = attempts("G,1d,1h,1.5", q=30 * M, horizon=10 * H, delay_warning=())
    assert s.next_try[2] - s.attempts[2] == pytest.approx(2.25 * H)  # 1.5 h planned, 2 h actual


def test_h_rule_stays_between_the_interval_and_the_g_gap():
    rng = np.random.default_rng(5)
    db = RetryDatabase(parse_retry_line("H,10d,1h,2"), rng=rng)
    key = ("host", "x")
    now, gaps = 0.0, []
    for _ in range(6):
        db.failed(key, now, received=0.0)
        nxt = db.records[key].next_try
        gaps.append(nxt - now)
        now = nxt
    assert gaps[0] == 1 * H
    # retry.c: next = now + p1 + random(g - p1)/2 + (g - p1)/2 with g = last gap x factor.
    for prev, gap in itertools.pairwise(gaps):
        g = prev * 2
        assert 1 * H + (g - 1 * H) // 2 <= gap <= g


def test_intervals_are_capped_at_retry_interval_max():
    s = attempts("G,20d,1h,10", q=60.0, horizon=4 * D, delay_warning=())
    assert list(np.diff(s.attempts)[:3]) == [1 * H, 10 * H, 24 * H]
    s = attempts("G,20d,1h,10", q=60.0, horizon=4 * D, delay_warning=(), retry_interval_max=12 * H)
    assert list(np.diff(s.attempts)[:3]) == [1 * H, 10 * H, 12 * H]


def test_a_rule_applies_up_to_and_including_its_cutoff():
    # failing_interval <= cutoff selects the rule: at exactly 2h the F,2h,15m rule still applies.
    db = RetryDatabase(parse_retry_line(EXIM_DEFAULT))
    key = ("host", "store")
    db.failed(key, 0.0, 0.0)
    db.failed(key, 2 * H, 0.0)
    assert db.records[key].rule.kind == "F" and db.records[key].next_try == 2 * H + 15 * M
    db.failed(key, 2 * H + 15 * M, 0.0)
    assert db.records[key].rule.kind == "G"


def test_cutoff_counts_from_the_first_failure_of_the_host_not_the_message():
    # The host failed 3 days before this message arrived: only 1 day of the 4-day cutoff is left.
    s = attempts(EXIM_DEFAULT, q=30 * M, host_failing_since=3 * D)
    assert s.attempts == [0, 6 * H, 12 * H, 18 * H, 24 * H, 30 * H]
    assert (s.bounce, s.bounce_reason) == (30 * H, "retry timeout exceeded")


def test_ultimate_address_timeout_tries_a_message_older_than_the_final_cutoff():
    # Under F,4d,6h the retry time after the attempt at 3d 23:10 is 4d 05:10, but the message passes 4 days
    # on the queue first: the next queue run tries it anyway, and its failure times the address out.
    s = attempts(EXIM_DEFAULT, q=5 * M)
    assert s.attempts[-2] == 3 * D + 23 * H + 10 * M and s.next_try[-1] == 4 * D + 5 * H + 10 * M
    assert s.attempts[-1] == 4 * D + 5 * M
    assert (s.bounce, s.bounce_reason) == (4 * D + 5 * M, "retry timeout exceeded")


def test_queue_runner_granularity_delays_attempts_to_the_next_run():
    s = attempts("F,1d,20m", q=30 * M, horizon=3 * H, delay_warning=())
    assert s.attempts[:4] == [0, 30 * M, 60 * M, 90 * M]  # 20 min retry, but runs every 30 min
    assert s.skipped_runs == 0


def test_two_messages_to_one_failing_host_share_its_record():
    db = RetryDatabase(parse_retry_line(EXIM_DEFAULT))
    store = ("host", "store")
    first, second = QueuedMessage(received=0.0), QueuedMessage(received=5 * M)
    assert db.check(store, 0.0, first.received) is Check.ATTEMPT
    db.failed(store, 0.0, first.received)
    # A new message for the same host is not tried before the host's retry time (spec: per host, not per
    # message): its immediate delivery is deferred.
    assert db.check(store, 5 * M, second.received) is Check.DEFER
    assert db.check(store, 15 * M, second.received) is Check.ATTEMPT
    db.succeeded(store)
    assert db.check(store, 16 * M, first.received) is Check.ATTEMPT


def test_address_records_for_4xx_to_rcpt_count_from_the_message_age_if_older():
    # Cyrus "452 4.2.2 Over quota" is a 4xx to RCPT: the record is per address. For such non-host errors
    # retry.c uses the message's age when it exceeds the time since the record's first failure.
    db = RetryDatabase(parse_retry_line("F,2h,15m; F,4d,1h"))
    addr = ("address", "user@uni-paderborn.de")
    timed_out = db.failed(addr, 3 * H, received=0.0, host_error=False)
    assert not timed_out and db.records[addr].rule.cutoff == 4 * D  # age 3h > 2h: past the first rule
    host = ("host", "store")
    db.failed(host, 3 * H, received=0.0, host_error=True)
    assert db.records[host].rule.cutoff == 2 * H  # a host error counts from the host's first failure


def test_new_message_for_a_host_past_its_cutoff_fails_at_once_with_delay_after_cutoff():
    db = RetryDatabase(parse_retry_line("F,1h,15m"))
    key = ("host", "remote")
    for t in range(0, 90 * 60, 15 * 60):  # failures at 0, 15, ..., 75 min
        timed_out = db.failed(key, float(t), received=0.0)
    assert timed_out and db.records[key].expired and db.records[key].next_try == 90 * M
    later = 80 * M  # a new message, before the post-cutoff retry time
    assert db.check(key, later, received=later) is Check.FAIL_AFTER_CUTOFF
    assert db.check(key, 90 * M, received=later) is Check.ATTEMPT  # its retry time has come

    db.delay_after_cutoff = False  # tries hosts not tried since the message arrived, else fails
    assert db.check(key, later, received=later) is Check.ATTEMPT  # last tried (75 min) before it arrived
    assert db.check(key, later, received=50 * M) is Check.FAIL_TRIED_SINCE_ARRIVAL


def test_retry_data_older_than_retry_data_expire_is_forgotten():
    db = RetryDatabase(parse_retry_line(EXIM_DEFAULT))
    key = ("host", "store")
    db.failed(key, 0.0, 0.0)
    assert db.record(key, 7 * D) is not None
    assert db.record(key, 7 * D + 1) is None
    s = attempts(EXIM_DEFAULT, q=30 * M, host_failing_since=8 * D, horizon=3 * H)
    assert s.attempts[:3] == [0, 30 * M, 60 * M]  # as if the host had never failed


def test_delay_warnings_follow_deliver_c():
    times = parse_delay_warning("4h:8h:24h")
    assert [warnings_due(t * H, times) for t in (3, 4, 8, 23, 24, 39, 40, 56)] == [0, 1, 2, 2, 3, 3, 4, 5]
    assert [warnings_due(t * H, (24 * H,)) for t in (23, 24, 47, 48, 72)] == [0, 1, 1, 2, 3]
    msg = QueuedMessage(received=0.0)
    assert [msg.warning_due(t * H, times) for t in (5, 9, 30)] == [True, True, True]
    assert msg.warning_due(30.5 * H, times) is False
    late = QueuedMessage(received=0.0)
    assert late.warning_due(30 * H, times) is True and late.warnings_sent == 3  # one mail for three due
    bounce = QueuedMessage(received=0.0, warn=False)  # <> sender, lists, bulk, auto-submitted
    assert bounce.warning_due(30 * H, times) is False
    assert parse_delay_warning("0") == ()


def test_schedule_warnings_come_only_with_real_attempts():
    # deliver.c sends a delay warning only after a run that really attempted a delivery
    # (delivery_attempted); runs that skip the message for its retry time send none, nor does the bounce.
    s = attempts(EXIM_DEFAULT, q=5 * M)
    assert s.delay_warnings == [1750 * M, 3190 * M, 4630 * M]  # 1d 05:10, 2d 05:10, 3d 05:10
    assert set(s.delay_warnings) <= set(s.attempts)
    for w in s.delay_warnings:  # each at the first attempt after a whole day on the queue
        before = [a for a in s.attempts if a < w]
        assert warnings_due(w, (24 * H,)) > warnings_due(before[-1], (24 * H,))
    assert s.bounce == 5765 * M and s.bounce not in s.delay_warnings
