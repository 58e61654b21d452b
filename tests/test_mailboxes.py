"""Mailbox life (components/mailboxes.py, docs/mailboxes.md): kinds of mailbox with their quotas, mailboxes
locked when full too long and unlocked when cleaned, and the spool's mail for a locked mailbox bounced at
its next attempt."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from tests.helpers import BASELINE
from twin.components.mailboxes import ACTIVE, DEACTIVATED
from twin.model import Model
from twin.scenario import ScenarioError

MORNING = ["clock.start=2010-05-03 09:00", "clock.horizon=6h", "clock.drain=10m", "outputs.report=false"]


def model(overrides, seed=1) -> Model:
    return Model(twin.load_scenario(BASELINE, [*MORNING, *overrides]), seed=seed)


def test_the_kinds_of_mailbox_have_their_shares_quotas_and_usage():
    m = model([])
    boxes, spec = m.ctx.mailboxes, m.scenario.workload.mailboxes
    n = boxes.count
    for k, (name, c) in enumerate(spec.classes.items()):
        mine = boxes.class_of == k
        share = mine.mean()
        assert abs(share - c.share) < 4 * np.sqrt(c.share * (1 - c.share) / n), name  # binomial, 4 sigma
        assert (boxes.quota[mine] == c.quota).all()
        below = np.asarray(boxes.usage)[mine] < c.quota
        median = float(np.median(np.asarray(boxes.usage)[mine][below]))
        # the lognormal's median, to within what 1,000+ draws allow (its sigma <= 1.5: +-15 %)
        assert abs(median / c.usage.median - 1) < 0.15, name
    assert set(boxes.by_class(1.0)) == set(spec.classes)


def test_the_classes_shares_must_sum_to_one_and_replace_the_global_quota():
    with pytest.raises(ScenarioError, match="classes"):
        twin.load_scenario(BASELINE, ["workload.mailboxes.classes.staff.share=0.5"])
    with pytest.raises(ScenarioError, match="quota"):
        twin.load_scenario(BASELINE, ["workload.mailboxes.quota=1GB"])


def test_a_mailbox_full_too_long_is_locked_its_mail_refused_and_bounced_then_unlocked_when_cleaned():
    """With a lock after 1 hour full: the mailboxes full at the start are locked within the first hour and
    a check; stage 2 refuses their new mail at RCPT; the spool's mail for them bounces at its next
    attempt (Exim routes again); a user who cleans up gets the mailbox back at the next check."""
    lock = ["workload.mailboxes.deactivate_after=1h", "workload.mailboxes.lock_check=10m"]
    cleanup = ["workload.clients.cleanup.share=1"]
    m = model([*lock, *cleanup])
    boxes = m.ctx.mailboxes
    full_at_start = np.flatnonzero((np.asarray(boxes.usage) >= boxes.quota) & (boxes.status == ACTIVE))
    assert len(full_at_start) > 50
    m.advance(6 * 3600 + 1e-6)  # just after a check (every 10 minutes from the start)
    assert boxes.deactivations >= 0.5 * len(full_at_start)
    assert boxes.reactivations > 0  # users who logged in cleaned up (cleanup share 1)
    locked = np.flatnonzero(boxes.locked)
    assert len(locked) == boxes.locked_count == boxes.deactivations - boxes.reactivations
    assert (boxes.status[locked] == DEACTIVATED).all()
    assert all(boxes.status_of[b] == DEACTIVATED for b in locked.tolist())
    assert (np.asarray(boxes.usage)[locked] >= boxes.quota[locked]).all()
    back = [b for b in full_at_start.tolist() if not boxes.locked[b]]
    assert back and all(boxes.status_of[b] == ACTIVE for b in back)
    # what stage 2 refused, and what the frontends bounced for a locked mailbox, against no lock
    on = twin.simulate(twin.load_scenario(BASELINE, [*MORNING, *lock, *cleanup]), seed=1).kpis
    off = twin.simulate(twin.load_scenario(BASELINE, [*MORNING, *cleanup]), seed=1).kpis
    assert on["mailboxes"]["deactivated_for_quota"] == boxes.deactivations  # the same run, through the API
    assert on["by_stage"]["deactivated"]["rejected"] > off["by_stage"]["deactivated"]["rejected"]
    bounced = [k["by_stage"]["deactivated"].get("bounced", 0) for k in (on, off)]
    assert bounced[0] > bounced[1] + 10
    assert on["lmtp_replies"]["store"]["452"] < off["lmtp_replies"]["store"]["452"]


def _spool_trend(extra):
    """The frontends' spool over a week of the baseline at a fifth of its size (3,500 mailboxes and a fifth
    of the mail from the Internet: per mailbox the same mail, logins and clean-ups): its slope from day 2
    to day 7 (a linear fit of the 10-minute samples), as a share of its mean per day, and the daily means."""
    over = [
        "clock.horizon=7d",
        "clock.drain=0s",
        "outputs.report=false",
        "outputs.sample_interval=10m",
        "workload.mailboxes.count=3500",
        "workload.inbound.volume=280k/day",
        *extra,
    ]
    ts = twin.simulate(twin.load_scenario(BASELINE, over), seed=1).timeseries
    spool = ts[ts["kind"] == "frontend"].groupby("t")["spool_messages"].sum()
    days = spool.index.to_numpy() / 86400
    after = days >= 2  # the first two days fill the spool from empty and lock what was full at the start
    slope = np.polyfit(days[after], spool.to_numpy()[after], 1)[0]
    daily = [spool[(days >= d) & (days < d + 1)].mean() for d in range(7)]
    return slope / spool.to_numpy()[after].mean(), daily


def test_the_fault_free_spool_does_not_trend_upward_over_the_week():
    """Issue 13: with the users deleting and cleaning up and full mailboxes locked after a day, the spool
    reaches a steady level. Without them (the model before) it grows every day by about a quarter of its
    mean (measured: +27 % a day), which the bound of +5 % a day tells apart; the baseline measured -28 %
    (the weekend's fewer logins let it grow for a day or two, a lock empties it again)."""
    trend, daily = _spool_trend([])
    assert trend < 0.05, daily
    grows, daily = _spool_trend(
        ["workload.clients.enabled=false", "workload.mailboxes.deactivate_after=null"]
    )
    assert grows > 0.15, daily  # the same check sees the growth when nothing empties the mailboxes
