"""The users' IMAP, POP and webmail sessions (components/access.py, workload/clients.py, docs/clients.md):
their logins load the KDC or the directory, they fail while what they need is down, they read and delete
mail, and their commands' latency shows the store's load."""

from __future__ import annotations

import math

import pytest

import twin
from tests.helpers import BASELINE
from twin.components.store import Store
from twin.model import Model
from twin.scenario import ScenarioError

# An hour of Monday morning with nothing but the users' sessions: the KDC, the directory and the store
# see no other customers.
ONLY_CLIENTS = [
    "clock.start=2010-05-03 09:00",
    "clock.horizon=1h",
    "clock.drain=10m",
    "workload.inbound.enabled=false",
    "workload.lists.enabled=false",
    "outputs.report=false",
]
PEAK = ["clock.start=2010-05-03 09:00", "clock.horizon=1h", "clock.drain=10m", "outputs.report=false"]


def run(overrides, seed=1):
    return twin.simulate(twin.load_scenario(BASELINE, overrides), seed=seed)


def totals(kpis, field):
    return sum(p[field] for p in kpis["clients"].values())


def test_every_login_loads_the_kdc_or_the_directory_once():
    res = run(ONLY_CLIENTS)
    logins = totals(res.kpis, "logins")
    comps = res.kpis["components"]
    kdc = comps["kdc"]["customers"]
    ldap = sum(comps[f"ldap{i}"]["customers"] for i in (1, 2, 3))
    assert logins > 3000
    assert totals(res.kpis, "login_failures") == 0
    assert kdc + ldap == logins  # nothing else asks them in this run
    # The Kerberos share the baseline's protocols give: imap 0.6 x 0.3 + pop 0.15 x 0.05 + webmail 0.
    spec = twin.load_scenario(BASELINE).workload.clients.protocols
    share = sum(p.share * p.kerberos for p in spec.values())
    assert share == pytest.approx(0.1875)
    sigma = math.sqrt(logins * share * (1 - share))  # binomial; 4 sigma: 1 in 16,000 seeds fails
    assert abs(kdc - logins * share) < 4 * sigma


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("load_balancer", "balancer"),
        ("store", "store unreachable"),
        ("ldap", "ldap unreachable"),
        ("san", "san unreachable"),
    ],
)
def test_logins_fail_while_what_they_need_is_down(target, reason):
    res = run([*ONLY_CLIENTS, f"faults=[{{kind: outage, target: {target}, at: 10m, duration: 20m}}]"])
    failures = {}
    for p in res.kpis["clients"].values():
        for k, v in p["failures"].items():
            failures[k] = failures.get(k, 0) + v
    # a login in flight when the target fails is lost midway (a few at most); every other failure is refused
    lost = failures.pop("connection lost", 0)
    assert set(failures) == {reason} and lost <= 5
    logins = totals(res.kpis, "logins")
    # A third of the hour is down: the logins then fail and are tried again every 10 minutes; the rest
    # before and after go through.
    assert 0.15 * logins < failures[reason] < 0.6 * logins
    assert totals(res.kpis, "sessions") > 0.5 * logins
    if target == "store":  # the sessions open on it when it failed are cut
        assert totals(res.kpis, "sessions_cut") > 0


def test_a_kdc_outage_fails_the_kerberos_logins_only():
    res = run([*ONLY_CLIENTS, "faults=[{kind: outage, target: kdc, at: 0s, duration: 2h}]"])
    clients = res.kpis["clients"]
    assert clients["webmail"]["login_failures"] == 0  # Horde logs in with the password (seed §6)
    assert clients["webmail"]["sessions"] > 500
    imap = clients["imap"]
    assert set(imap["failures"]) == {"kdc unreachable"}
    # Kerberos clients keep failing (every retry) and never get in; password logins all do.
    sessions_expected = imap["logins"] - imap["login_failures"]
    assert imap["sessions"] == sessions_expected
    assert 0.1 * imap["logins"] < imap["login_failures"] < 0.6 * imap["logins"]


def test_message_files_are_conserved_delivered_in_deleted_out(monkeypatch):
    """Every message the store takes is a file in its mailbox until a session expunges it."""
    stored = []
    plain = Store._stored

    def counted(self, box, size):
        stored.append(size)
        plain(self, box, size)

    monkeypatch.setattr(Store, "_stored", counted)
    model = Model(twin.load_scenario(BASELINE, PEAK), seed=1)
    boxes = model.ctx.mailboxes
    before = sum(boxes.messages)
    model.run()
    clients = {p.name: p for p in model.services[-1].protocols}
    deleted = sum(p.deleted for p in clients.values())
    assert len(stored) > 10_000 and deleted > 1000
    assert sum(boxes.messages) == before + len(stored) - deleted
    assert min(boxes.messages) >= 0 and min(boxes.usage) >= 0


def test_idle_sessions_fetch_the_mail_that_comes_while_they_are_open():
    idle = run(PEAK).kpis["clients"]
    polled = run(
        [*PEAK, "workload.clients.protocols.imap.idle=false", "workload.clients.protocols.webmail.idle=false"]
    ).kpis["clients"]
    # the same logins (the streams are keyed by purpose), but with IDLE more of the new mail is read
    assert idle["imap"]["logins"] == polled["imap"]["logins"]
    assert idle["imap"]["messages_fetched"] > 1.2 * polled["imap"]["messages_fetched"]
    assert idle["pop"]["messages_fetched"] <= polled["pop"]["messages_fetched"]  # POP does not idle


def test_users_delete_mail_and_clean_up_full_mailboxes():
    model = Model(twin.load_scenario(BASELINE, [*ONLY_CLIENTS, "workload.clients.cleanup.share=1"]), seed=1)
    boxes = model.ctx.mailboxes
    usage, full = sum(boxes.usage), sum(u >= q for u, q in zip(boxes.usage, boxes.quota_of, strict=True))
    model.run()
    clients = model.services[-1]
    cleanups = sum(p.cleanups for p in clients.protocols)
    assert cleanups > 0 and sum(p.deleted for p in clients.protocols) > 0
    assert sum(boxes.usage) < usage  # no mail comes in: what is deleted is gone
    now_full = sum(u >= q for u, q in zip(boxes.usage, boxes.quota_of, strict=True))
    assert now_full == full - cleanups  # each user at quota who logged in cleaned up, once


def test_commands_wait_longer_when_the_store_is_slow():
    fast = run(PEAK).kpis["clients"]["imap"]
    slow = run([*PEAK, "faults=[{kind: degraded, target: store, at: 0s, duration: 2h, factor: 30}]"])
    slow = slow.kpis["clients"]["imap"]
    assert fast["commands_within_target"] > 0.99
    assert slow["commands"]["p95_s"] > 5 * fast["commands"]["p95_s"]
    assert slow["commands_within_target"] < fast["commands_within_target"]


def test_the_sessions_open_are_a_gauge_of_the_store():
    res = run(ONLY_CLIENTS)
    ts = res.timeseries
    store = ts[ts["component"] == "store"]
    assert store["sessions_open"].max() > 100  # ~2,000 logins an hour, open ~20 minutes (IMAP)
    assert ts[ts["component"] == "store-replica"]["sessions_open"].max() == 0


def test_sessions_change_no_other_stream():
    """Principle 3: the sessions draw from their own streams, so the mail offered is the same with them."""
    on, off = run(PEAK), run([*PEAK, "workload.clients.enabled=false"])
    assert on.kpis["recipients"]["offered"] == off.kpis["recipients"]["offered"]
    assert "clients" not in off.kpis


def test_the_same_seed_gives_the_same_sessions():
    assert run(ONLY_CLIENTS).kpis["clients"] == run(ONLY_CLIENTS).kpis["clients"]


def test_the_protocols_shares_must_sum_to_one():
    with pytest.raises(ScenarioError, match="protocols"):
        twin.load_scenario(BASELINE, ["workload.clients.protocols.pop.share=0.3"])


def test_what_a_session_deletes_of_what_it_read_goes_at_the_size_read():
    """A user who deletes everything read removes those messages' bytes, not as many messages of the
    mailbox's mean size: new mail (large ham, small spam) is not the mean of what a mailbox keeps. With
    every protocol deleting all it reads, no clean-ups and every session closed (30 minutes each), what the
    mailboxes grew by is exactly the mail nobody has fetched yet. Deleting at the mailbox's mean size
    (about 51 KB in the baseline, smaller than new mail) left 18 % more than that behind in this hour
    (measured)."""
    everything = [f"workload.clients.protocols.{p}.delete=1" for p in ("imap", "pop", "webmail")]
    everything += [
        f"workload.clients.protocols.{p}.session={{dist: constant, value: 30m}}" for p in ("imap", "webmail")
    ]
    overrides = [*PEAK, "clock.drain=2h", "workload.clients.readers=1", "workload.clients.cleanup.share=0"]
    model = Model(twin.load_scenario(BASELINE, [*overrides, *everything]), seed=1)
    boxes = model.ctx.mailboxes
    before = sum(boxes.usage)
    model.run()
    access = model.services[-1]
    assert not access.watching  # every session has closed
    read = sum(p.fetched for p in access.protocols)
    assert read > 2_000 and sum(p.deleted for p in access.protocols) == read
    unread = sum(boxes.fresh_bytes)
    assert sum(boxes.usage) - before == pytest.approx(unread, rel=0.01)


def test_deleting_takes_the_size_given_or_the_mailboxes_mean():
    model = Model(twin.load_scenario(BASELINE, [*ONLY_CLIENTS, "workload.clients.enabled=false"]), seed=1)
    boxes = model.ctx.mailboxes
    box = max(range(boxes.count), key=lambda b: boxes.messages[b])
    n, usage, total = boxes.messages[box], boxes.usage[box], boxes.usage_total
    boxes.delete(box, 10, size=1000.0)  # ten messages just read, of 1,000 bytes each
    assert boxes.usage[box] == pytest.approx(usage - 10_000) and boxes.messages[box] == n - 10
    assert boxes.usage_total == pytest.approx(total - 10_000)
    mean = boxes.usage[box] / boxes.messages[box]
    boxes.delete(box, 5, oldest=True)  # a clean-up: old mail, of the mean size
    assert boxes.usage[box] == pytest.approx(usage - 10_000 - 5 * mean)
    boxes.delete(box, 10 * n, size=1.0)  # more than it holds: the mailbox is empty, not negative
    assert boxes.messages[box] == 0 and boxes.usage[box] == pytest.approx(0, abs=1e-6)
