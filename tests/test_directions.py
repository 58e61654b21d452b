"""Mail by direction (docs/outputs.md, "directions"): every recipient belongs to exactly one direction, and
each direction's figures are what its rows in the ledger say."""

from __future__ import annotations

import numpy as np

from tests.helpers import simulate
from tests.mail import SERVICE, X4100, lists_section, submission, users_platform
from twin.scenario.schema import STATES


def _all_directions() -> dict:
    users = {
        "per_mailbox": "20/day",
        "local": 1.0,
        "recipients": {"dist": "constant", "value": 1},
        "size": {"dist": "constant", "value": "8KB"},
    }
    out = {**users, "local": 0.0, "unknown_remote": 0.2}
    relay = {**users, "per_mailbox": None, "volume": "2000/day", "relay": True, "local": 0.5}
    del relay["per_mailbox"]
    data = users_platform(
        sub=submission(classes={"internal": users, "outbound": out, "systems": relay}),
        remote={"greylisting": 0.5},
        inbound=True,
        mailboxes={"count": 300, "quarantine": 0.5},
        horizon="2h",
        volume="0.2/s",
        mail={
            "spam_score": {"dist": "empirical", "points": [0, 90]},
            "recipients": {"dist": "constant", "value": 2},
        },
    )
    data["platform"]["internal"] = {"members": [{"count": 1, "hardware": SERVICE}]}
    data["platform"]["lists"] = {"members": [{"count": 1, "hardware": X4100}]}
    data["workload"]["lists"] = lists_section(posts="200/day", local=0.5, unknown_remote=0.3)
    data["policies"]["quarantine"] = {"digest_at": "1h"}  # the digests at 01:00
    return data


def test_every_recipient_is_in_one_direction_and_each_direction_is_what_its_rows_say():
    res = simulate(_all_directions())
    k, led = res.kpis, res.ledger
    d = k["directions"]
    # the workload's directions in order, the relay's classes under "relay", the platform's own mail last
    assert list(d) == ["inbound", "internal", "outbound", "relay", "lists", "platform"]
    assert d["inbound"]["classes"] == ["inbound-m"] and d["relay"]["classes"] == ["systems"]
    assert sorted(d["lists"]["classes"]) == ["list_copy", "list_post"]
    assert {"bounce", "quarantine_digest"} <= set(d["platform"]["classes"])
    # a partition of the recipients
    for state in ("offered", *STATES):
        assert sum(x["recipients"][state] for x in d.values()) == k["recipients"][state], state
    within = res.scenario.outputs.quality.delivery_within
    for name, x in d.items():
        rows = led[led["traffic_class"].isin(x["classes"])]
        assert x["recipients"]["offered"] == len(rows)
        for state in STATES:
            assert x["recipients"][state] == (rows["state"] == state).sum(), (name, state)
        done = rows[rows["state"] == "delivered"]
        latency = (done["t_final"] - done["t_offered"]).to_numpy()
        lat = x["delivery_latency"]
        assert lat["count"] == len(latency)
        if len(latency):
            assert x["delivered_within_share"] == np.mean(latency <= within)
            assert lat["max_s"] == latency.max()
            # the histogram's bins are 0.23 % wide: the percentile lies within a bin of the exact one
            exact = np.quantile(latency, 0.95, method="inverted_cdf")
            assert abs(lat["p95_s"] - exact) <= 0.0025 * exact + 1e-4, name
    # the report draws one latency curve per direction with deliveries
    assert set(res.latency_by_direction) == {n for n, x in d.items() if x["delivery_latency"]["count"]}


def test_each_direction_has_a_funnel_that_ends_in_its_deliveries(tmp_path):
    data = _all_directions()
    data["outputs"]["report"] = True
    res = simulate(data)
    k, led = res.kpis, res.ledger
    funnels = k["funnel"]
    assert list(funnels) == ["inbound", "inbound-m", "internal", "outbound", "relay", "lists"]
    for name, steps in funnels.items():
        assert steps[0]["left"] - sum(s["removed"] for s in steps) == steps[-1]["left"]
        if name.startswith("inbound"):  # the original inbound recipients
            rows = led[(led["traffic_class"] == "inbound-m") & (led["parent_id"] == -1)]
        else:
            rows = led[led["traffic_class"].isin(k["directions"][name]["classes"])]
        assert steps[0]["left"] == len(rows)
        assert steps[-1]["left"] == (rows["state"] == "delivered").sum(), name
    # the report draws the directions' funnels (the inbound one as a whole) without the inbound classes
    res.save(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "lists: removed" in html and "inbound-m: removed" not in html


def test_a_run_without_mail_from_the_internet_has_a_report_with_the_users_funnels(tmp_path):
    data = users_platform(mailboxes={"count": 200}, horizon="1h")
    data["outputs"]["report"] = True
    res = simulate(data)
    assert "service_quality" not in res.kpis and list(res.kpis["funnel"]) == ["out"]
    res.save(tmp_path)
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Funnel</h2>" in html and "SPECmail" not in html
