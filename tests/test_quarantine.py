"""The quarantine as users see it (seed §3.1 step 7; docs/inbound.md): a daily digest to each user with
newly quarantined mail, releases from it that end ``delivered`` at stage ``quarantine release``, and the
retention of what nobody asked for."""

from __future__ import annotations

import datetime as dt

import pytest

import twin
from tests.helpers import simulate
from tests.mail import mail_platform
from twin.model import Model
from twin.scenario.expectations import KPI_BLOCKS

H = 3600.0


def quarantine_platform(horizon="1d", drain="8h", count=20, **policy) -> dict:
    """Every message is spam at 90 % to a mailbox that enabled the quarantine."""
    data = mail_platform(
        horizon=horizon,
        drain=drain,
        volume="0.005/s",
        mail={"spam_score": {"dist": "constant", "value": 90}},
        mailboxes={"count": count, "quarantine": 1.0, "quota": "1GB"},
    )
    data["policies"]["quarantine"] = {
        "digest_at": "6h",
        "release_users": 1.0,
        "release_share": 0.5,
        "release_delay": {"dist": "constant", "value": "1h"},
        **policy,
    }
    return data


def test_a_digest_goes_to_each_user_with_new_mail_and_half_is_released_after_it():
    res = simulate(quarantine_platform())
    assert res.kpis["conservation_ok"]
    led = res.ledger
    originals = led[led["parent_id"] == -1]
    digests = led[led["traffic_class"] == "quarantine_digest"]
    # the clock starts Monday 00:00: digests at 06:00 on each day of the run (1 day + 8 h drain)
    assert set(digests["t_offered"]) == {6 * H, 30 * H}
    first = digests[digests["t_offered"] == 6 * H]
    before = originals[originals["t_accepted"] < 6 * H]
    # one digest per user whose quarantine got mail before it, delivered into the mailbox
    assert sorted(first["mailbox"]) == sorted(set(before["mailbox"]))
    assert set(digests["state"].astype(str)) == {"delivered"}
    # its size: 3 KB and 150 B per message listed
    listed = before.groupby("mailbox").size()
    sizes = first.set_index("mailbox")["size"]
    assert (sizes.loc[listed.index] == 3 * 1024 + 150 * listed).all()
    # every user releases, half the messages (drawn): released an hour after the digest that listed them
    released = originals[originals["stage"] == "quarantine release"]
    assert set(released["state"].astype(str)) == {"delivered"}
    share = len(released) / (len(released) + (originals["state"] == "quarantined").sum())
    assert 0.35 < share < 0.65
    early = released[released["t_accepted"] < 6 * H]
    assert len(early) > 10 and (early["t_final"] >= 7 * H).all() and (early["t_final"] < 7 * H + 60).all()
    # what came after the last digest and will be released waits in the quarantine
    late = originals[originals["t_accepted"] >= 30 * H]
    assert set(late["state"].astype(str)) <= {"quarantined", "pending"}
    assert set(late.loc[late["state"] == "pending", "stage"].astype(str)) <= {"quarantine"}
    q = res.kpis["quarantine"]
    assert tuple(q) == KPI_BLOCKS["quarantine"]  # what expectations may name
    assert q["digests_sent"] == len(digests) and q["released"] == len(released)
    assert q["held"] == len(
        originals[originals["stage"].astype(str).isin(["quarantine", "quarantine release"])]
    )


def test_the_report_shows_the_quarantine(tmp_path):
    data = quarantine_platform(horizon="8h", drain="0s")
    data["outputs"]["report"] = True
    simulate(data).save(tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Quarantine</h2>" in page and "digests sent" in page


def test_users_who_never_release_get_digests_only():
    res = simulate(quarantine_platform(release_users=0.0))
    led = res.ledger
    originals = led[led["parent_id"] == -1]
    assert set(originals["state"].astype(str)) == {"quarantined"}
    assert res.kpis["quarantine"]["released"] == 0 and res.kpis["quarantine"]["digests_sent"] > 10


def test_mail_is_kept_for_the_retention_and_then_deleted():
    res = simulate(quarantine_platform(horizon="3d", drain="0s", retention="1d", release_users=0.0))
    q = res.kpis["quarantine"]
    assert q["expired"] > 0
    # what is left: at most the last two days' mail (deleted in whole days at each digest)
    assert q["in_quarantine_at_end"] <= q["held"] - q["expired"]
    assert q["peak_bytes"] >= q["bytes_at_end"] > 0


def test_digest_times_follow_local_time_across_the_change_to_summer_time():
    data = quarantine_platform(horizon="3d")
    data["clock"]["start"] = "2010-03-27 00:00"  # Europe/Berlin: summer time from Sunday 28 March, 02:00
    model = Model(twin.scenario_from_dict(data), seed=1)
    times = list(model.groups["frontend"].service.quarantine.digest_times())
    assert times[:3] == [6 * H, 29 * H, 53 * H]  # Sunday 06:00 comes 23 hours after Saturday's
    zone = model.scenario.clock.zone
    t0 = model.scenario.clock.t0.astimezone(dt.UTC)  # an instant: adding to it is not wall-clock arithmetic
    assert all((t0 + dt.timedelta(seconds=t)).astimezone(zone).hour == 6 for t in times)


@pytest.mark.parametrize("field", ["digest_at", "release_share"])
def test_bad_quarantine_settings_name_their_field(field):
    value = {"digest_at": "25h", "release_share": 2}[field]
    with pytest.raises(twin.ScenarioError, match=f"policies.quarantine.{field}"):
        twin.scenario_from_dict(quarantine_platform(**{field: value}))
