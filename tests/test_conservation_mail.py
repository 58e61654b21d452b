"""Conservation on randomly drawn mail platforms: any workload attributes, outages of any class (at any
instant, so crashes fall in the middle of sessions, scans and LMTP deliveries), senders that retry or
not; every offered recipient ends in exactly one state, and so does every generated one, and no node
finishes a recipient while it is down."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import simulate
from tests.mail import SERVICE, X4100, lists_section, mail_platform, submission
from twin.components.scanner import perlmx_header, subject_tag
from twin.scenario.schema import SpamPolicy

share = st.floats(0, 1)
TARGETS = [
    "fe1",
    "frontend",
    "scanner",
    "scan_central",
    "store",
    "ldap",
    "blocklist",
    "lb1",
    "load_balancer",
    "kdc",
    "internet",
    "internal",
    "lists",
]


SCRIPTS = [
    'require "fileinto"; if header :contains "subject" "{SPAM" { fileinto "Junk"; }',
    "discard;",
    'redirect "a@domain1"; keep;',
    'redirect "b@uni-paderborn.de";',
    'require "vacation"; vacation :days 1 "away";',
    'require "fileinto"; fileinto "Missing";',
    "if true { keep }",  # a syntax error
]


@st.composite
def platforms(draw):
    mail = {
        "sender": {"retrying_share": draw(share), "retry": "F,1h,2m"},
        "blocklisted": draw(share),
        "bad_sender": draw(share) / 4,
        "guessed": draw(share) / 2,
        "recipients": {"dist": "zipf", "a": draw(st.floats(1.5, 4)), "max": 20},
        "spam_score": {"dist": "empirical", "points": draw(st.lists(st.integers(0, 100), min_size=1))},
        "virus": draw(share) / 4,
        "attachments": {"share": draw(share) / 2, "extensions": {"exe": 1, "pdf": 1}, "spaces": draw(share)},
        "subdomain": draw(share) / 2,
        # Up to 2 MB at the senders' 128 KB/s: sessions of up to ~16 s, which crashes cut in the middle.
        "size": {"dist": "lognormal", "median": f"{draw(st.integers(4, 400))}KB", "sigma": 1.0},
    }
    boxes = {
        "count": draw(st.integers(1, 200)),
        "deactivated": draw(share) / 4,
        "missing": draw(share) / 4,
        "over_quota": draw(share),
        "quarantine": draw(share),
        "quota": "20KB",
        # stage 12: scripts that file, discard, redirect (here and outside), reply, or fail
        "sieve": {
            "share": draw(share),
            "scripts": [{"text": draw(st.sampled_from(SCRIPTS)), "share": 1.0, "folders": ["Junk"]}],
        },
    }
    faults = [
        {
            "kind": "outage",
            "target": draw(st.sampled_from(TARGETS)),
            "at": f"{draw(st.floats(0, 1700)):.3f}s",
            "duration": f"{draw(st.floats(0.5, 1800)):.3f}s",
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    if draw(st.booleans()):  # the list server comes back with its queues gone
        faults.append(
            {
                "kind": "loss",
                "target": "lists",
                "at": f"{draw(st.floats(0, 1700)):.3f}s",
                "duration": f"{draw(st.floats(0.5, 1800)):.3f}s",
            }
        )
    data = mail_platform(
        horizon="30m",
        drain=draw(st.sampled_from(["0s", "10m", "1h"])),
        volume=f"{draw(st.floats(0.05, 3))}/s",
        mail=mail,
        mailboxes=boxes,
        faults=faults,
        exim={"retry": "F,20m,5m"},
    )
    # The quarantine's digests (local time: the clock starts at 00:00) and releases.
    data["policies"]["quarantine"] = {
        "digest_at": f"{draw(st.floats(0, 2400)):.0f}s",
        "release_users": draw(share),
        "release_share": draw(share),
        "release_delay": {"dist": "exponential", "mean": f"{draw(st.floats(1, 1800)):.0f}s"},
    }
    # The users' mail (docs/outbound.md) to remote domains that greylist, refuse and go down.
    data["platform"]["internal"] = {"members": [{"count": 1, "hardware": SERVICE}]}
    data["platform"]["kdc"] = {
        "members": [{"count": 1, "hardware": SERVICE}],
        "servers": 1,
        "demand": {"dist": "constant", "value": "5ms"},
    }
    users = {
        "per_mailbox": f"{draw(st.floats(1, 200))}/day",
        "local": draw(share),
        "unknown_local": draw(share) / 4,
        "unknown_remote": draw(share) / 4,
        "recipients": {"dist": "zipf", "a": draw(st.floats(1.5, 4)), "max": 10},
        "size": {"dist": "lognormal", "median": f"{draw(st.integers(4, 400))}KB", "sigma": 1.0},
        "virus": draw(share) / 4,
        "attachments": {"share": draw(share) / 2, "extensions": {"exe": 1, "pdf": 1}, "spaces": draw(share)},
        "subdomain": draw(share) / 4,
        "relay": draw(st.booleans()),
    }
    sub = submission(classes={"users": users}, kerberos=draw(share), retry="F,20m,3m")
    sub["enabled"] = draw(st.booleans())
    data["workload"]["submission"] = sub
    data["workload"]["remote"] = {
        "domains": draw(st.integers(1, 20)),
        "popularity": draw(st.floats(0, 2)),
        "greylisting": draw(share),
        "greylist_delay": f"{draw(st.floats(0, 600)):.1f}s",
        "connect_timeout": f"{draw(st.floats(0, 300)):.1f}s",
        "outages": [
            {
                "domain": "domain1",
                "at": f"{draw(st.floats(0, 1700)):.3f}s",
                "duration": f"{draw(st.floats(1, 3600)):.3f}s",
            }
            for _ in range(draw(st.integers(0, 2)))
        ],
    }
    # Mailman's lists: posts from members here and outside, copies to both, bounces scored (docs/lists.md).
    data["platform"]["lists"] = {
        "members": [{"count": 1, "hardware": X4100}],
        "demand": {"dist": "constant", "value": f"{draw(st.integers(1, 2000))}ms"},
    }
    data["workload"]["lists"] = lists_section(
        count=draw(st.integers(1, 5)),
        members={"dist": "lognormal", "median": draw(st.integers(1, 300)), "sigma": 1.0},
        local=draw(share),
        unknown_remote=draw(share),
        posts=f"{draw(st.floats(1, 2000))}/day",
        kerberos=draw(share),
        max_recipients=draw(st.integers(1, 600)),
        retry={"retry": "F,20m,3m", "retry_interval_max": "1h"},
        expand_retry=f"{draw(st.integers(1, 600))}s",
        bounce_score_threshold=draw(st.floats(0.5, 5)),
        enabled=draw(st.booleans()),
    )
    return data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=platforms(), seed=st.integers(0, 2**31))
def test_every_recipient_ends_in_exactly_one_state(data, seed):
    res = simulate(data, seed=seed)
    rec = res.kpis["recipients"]
    assert res.kpis["conservation_ok"], res.kpis["conservation"]
    assert sum(v for k, v in rec.items() if k != "offered") == rec["offered"]
    led = res.ledger
    final = led[led["state"] != "pending"]
    assert (final["t_final"] >= final["t_offered"]).all()
    assert (final["t_final"] <= res.scenario.end + 1e-9).all()
    # A node that is down gives no answer: nothing is finished at it while it is down.
    for _, inc in res.incidents.iterrows():
        end = inc["end_s"] if inc["end_s"] == inc["end_s"] else res.scenario.end
        at_node = final[final["node"] == inc["target"]]["t_final"]
        assert not ((at_node > inc["start_s"]) & (at_node < end)).any(), inc.to_dict()


def test_the_perlmx_header_and_subject_tags():
    assert perlmx_header(78) == "Gauge=XXXXXXXIIIIIIII, Probability=78%"
    assert perlmx_header(0) == "Gauge=, Probability=0%"
    seed = SpamPolicy()  # seed §3.1: {SPAM!} from 70 %, {SPAM?} from 50 %
    tags = [subject_tag(s, seed) for s in (49, 50, 69, 70, 100)]
    assert tags == ["", "{SPAM?}", "{SPAM?}", "{SPAM!}", "{SPAM!}"]
