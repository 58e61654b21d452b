"""Mailman's lists (docs/lists.md): posts come in through the frontends, the list server expands them and
hands the copies back in SMTP transactions of at most 500 recipients (Mailman 2.1 ``SMTP_MAX_RCPTS``),
retries refused transactions hourly for 5 days (``DELIVERY_RETRY_WAIT``, ``DELIVERY_RETRY_PERIOD``) and
disables members by bounce score (``registerBounce``)."""

from __future__ import annotations

import pytest

from tests.helpers import outage, simulate
from tests.mail import lists_platform
from twin.components.mailman import ListPopulation
from twin.scenario import ScenarioError
from twin.scenario.loading import scenario_from_dict

H, D = 3600.0, 86400.0


def _of(led, kind):
    return led[led["traffic_class"] == kind]


def test_a_post_goes_to_its_members_in_transactions_of_at_most_500_recipients():
    data = lists_platform(
        lists={"members": {"dist": "constant", "value": 1200}}, mailboxes={"count": 5000}, horizon="4h"
    )
    data["clock"]["drain"] = "10m"
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    posts, copies = _of(led, "list_post"), _of(led, "list_copy")
    assert len(posts) >= 2
    # the post ends at the list server; the members' copies are messages whose parent is the post
    assert (posts["state"] == "delivered").all() and set(posts["node"]) == {"lists"}
    assert set(copies["parent_id"]) == set(posts["msg_id"])
    # 1,200 members: 500 + 500 + 200, each copy one transaction (SMTP_MAX_RCPTS = 500)
    per_copy = copies.groupby("msg_id").agg(n=("parent_id", "size"), post=("parent_id", "first"))
    for _, sizes in per_copy.groupby("post")["n"]:
        assert sorted(sizes) == [200, 500, 500]
    # the frontends scanned the copies and delivered them by LMTP, each member once per post
    assert copies["spam_score"].notna().all()
    assert (copies["state"] == "delivered").all() and set(copies["node"]) == {"store"}
    assert not copies.duplicated(["parent_id", "mailbox"]).any()
    mm = kpis["mailman"]["lists"]
    assert mm["posts_expanded"] == len(posts) and mm["copy_recipients"] == 1200 * len(posts)
    assert mm["smtp"]["transactions"] == 3 * len(posts)


def test_posts_from_members_outside_come_from_the_internet_and_copies_go_to_their_domains():
    data = lists_platform(lists={"local": 0.0, "posts": "240/day"}, horizon="2h")
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    posts, copies = _of(led, "list_post"), _of(led, "list_copy")
    assert len(posts) > 5 and kpis["conservation_ok"]
    # every post came over the frontends' SMTP service from outside (the block "smtp" lists only the
    # inbound workload's figures), none by submission
    assert (posts["state"] == "delivered").all()
    assert kpis["submission"]["transactions"] == 0
    assert (copies["state"] == "delivered").all() and set(copies["node"]) == {"internet"}


def test_bounce_scores_follow_mailmans_register_bounce():
    lists = ListPopulation.__new__(ListPopulation)
    lists.score, lists.last, lists.disabled = [0.0], [-1], [False]
    day = 734000
    seen = [lists.register(0, d, 5.0, 7 * D) for d in (day, day, day + 1, day + 2)]
    assert seen == ["first", "same day", "scored", "scored"] and lists.score[0] == 3.0
    # a bounce more than 7 days after the last one starts the score again
    assert lists.register(0, day + 10, 5.0, 7 * D) == "stale" and lists.score[0] == 1.0
    for d in range(day + 11, day + 15):
        lists.register(0, d, 5.0, 7 * D)
    assert lists.score[0] == 5.0 and lists.disabled[0]
    assert lists.register(0, day + 16, 5.0, 7 * D) == "residual"


def test_a_member_whose_address_has_gone_is_disabled_on_the_fifth_day_of_bounces():
    # 20 members outside whose servers no longer know them: every copy is accepted, then bounced with a 550
    # by the remote server; Exim's bounce goes to the list's bounce address and Mailman scores one point
    # a day. The clock starts at local midnight (Monday, 3 May 2010).
    data = lists_platform(
        lists={
            "members": {"dist": "constant", "value": 20},
            "local": 0.0,
            "unknown_remote": 1.0,
            "posts": "12/day",
        },
        horizon="7d",
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    copies, bounces = _of(led, "list_copy"), _of(led, "bounce")
    assert (copies["state"] == "bounced").all()
    assert (bounces["state"] == "delivered").all() and set(bounces["node"]) == {"lists"}
    mm = kpis["mailman"]["lists"]
    assert mm["members_disabled"] == 20 and mm["members_enabled"] == 0
    assert mm["bounces_scored"] == 20 * 5
    # scored on days 0..4: disabled with the fifth day's first bounce, no copies after that day
    assert copies["t_offered"].max() < 5 * D
    assert (copies["t_offered"] >= 4 * D).any()


def test_mailman_retries_a_refused_transaction_hourly_for_five_days_then_drops_it():
    # Posts in the first 10 minutes wait on the frontends' spools while the list server is down (to 20 min);
    # when they reach Mailman the balancer pair is down (from 15 min, for 6 days), so the copies cannot
    # connect to the frontends' address.
    data = lists_platform(
        lists={"posts": "1440/day", "stop": "10m"},
        horizon="6d",
        faults=[outage("lists", "0s", "20m"), outage("load_balancer", "15m", "6d")],
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    posts, copies = _of(led, "list_post"), _of(led, "list_copy")
    assert len(posts) >= 3
    assert (posts["t_final"] >= 20 * 60).all()  # delivered to the list server once it was back
    assert (copies["state"] == "expired_at_sender").all()
    waited = copies["t_final"] - copies["t_offered"]
    assert (waited >= 5 * D).all() and (waited <= 5 * D + H).all()
    assert copies["attempts"].between(119, 122).all()  # the first try and one an hour for 5 days
    assert kpis["mailman"]["lists"]["smtp"]["temporary_errors_by_stage"]["connect"] >= 120
    ts = res.timeseries
    retrying = ts[ts["component"] == "lists"].set_index("t")["list_copies_retrying"]
    assert retrying.loc[D] == copies["msg_id"].nunique() and retrying.iloc[-1] == 0


def test_a_loss_of_the_list_server_takes_the_copies_waiting_for_a_retry():
    data = lists_platform(
        lists={"posts": "1440/day", "stop": "10m"},
        horizon="6h",
        faults=[
            outage("lists", "0s", "20m"),
            outage("load_balancer", "15m", "1d"),
            {"kind": "loss", "target": "lists", "at": "3h", "duration": "10m"},
        ],
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    copies = _of(led, "list_copy")
    assert len(copies) > 0
    assert (copies["state"] == "lost").all() and set(copies["stage"]) == {"list queue lost"}
    assert (copies["t_final"] == 3 * H).all()
    assert kpis["mailman"]["lists"]["copies_lost"] == copies["msg_id"].nunique()


def test_the_directory_down_holds_the_posts_and_they_go_out_after():
    # The posts reach the list server at about 20 min; the directory is down from 15 to 60 min, so
    # Mailman cannot build the member lists until then.
    data = lists_platform(
        lists={"posts": "1440/day", "stop": "10m"},
        horizon="3h",
        faults=[outage("lists", "0s", "20m"), outage("ldap", "15m", "45m")],
    )
    res = simulate(data)
    led, kpis = res.ledger, res.kpis
    assert kpis["conservation_ok"]
    posts, copies = _of(led, "list_post"), _of(led, "list_copy")
    assert len(posts) >= 3 and (posts["t_final"] < H).all()
    mm = kpis["mailman"]["lists"]
    assert mm["expansions_deferred"] > 0 and mm["posts_expanded"] == len(posts)
    assert (copies["t_offered"] >= H).all() and (copies["t_offered"] < H + 5 * 60 + 1).all()
    assert (copies["state"] == "delivered").all()


def test_lists_without_a_list_server_and_posts_with_recipients_are_refused():
    data = lists_platform()
    del data["platform"]["lists"]
    with pytest.raises(ScenarioError, match=r"workload\.lists\.enabled: Mailman's lists need a list server"):
        scenario_from_dict(data)
    data = lists_platform(lists={"post": {"recipients": {"dist": "constant", "value": 3}}})
    with pytest.raises(ScenarioError, match=r"workload\.lists\.post\.recipients: a post goes to its list"):
        scenario_from_dict(data)
