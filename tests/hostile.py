"""Bad input, as a hostile or careless user gives it: scenario files, ``--set``, ``--seed``, ``--out`` and
special files. Each case is a command line (``{B}``: the baseline scenario, ``{T}``: a scratch folder the
case's ``setup`` has prepared) and the one line the command must print on stderr, with exit code 2.

``tests/test_hostile.py`` runs every case in-process. ``python tests/hostile.py`` runs them as separate
processes with a timeout and a memory cap and counts the outcomes (clean exit 2, traceback, hang, silently
accepted), the table of the hardening issue's closing note.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from twin.scenario.loading import _set_name

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
BAD_FILES = Path(__file__).resolve().parent / "data" / "bad"

# A small valid scenario for cases that need a file of their own.
SMALL = """meta: {name: small}
clock: {start: 2010-05-03 00:00, horizon: 1h}
platform:
  stations:
    s1: {servers: 1, service: {dist: exponential, mean: 1s}}
workload:
  sources:
    - {name: a, enter: s1, rate: 0.5/s}
"""


@dataclass
class Case:
    id: str
    argv: list[str]
    expect: str  # the stderr line (placeholders as in argv; several problems: one line each, "\n" between)
    setup: str = ""  # the name of a function below that prepares {T}
    code: int = 2
    tags: list[str] = field(default_factory=list)


def _sets(prefix: str, items: list[tuple[str, str]], command: str = "validate") -> list[Case]:
    """Cases that override the baseline with ``--set`` and are refused with ``--set ITEM: message``."""
    out = []
    for i, (item, message) in enumerate(items):
        expect = message if message.startswith("{") else f"{_set_name(item)}: {message}"
        out.append(Case(f"{prefix}-{i:02d}", [command, "{B}", "--set", item], expect))
    return out


NONFINITE = "must be a finite number"
MANY_NODES = "platform.frontend.members=[" + ", ".join(["{count: 1000, hardware: hp-dl580-g5}"] * 11) + "]"

CASES: list[Case] = [
    # -- numbers that cannot be simulated --------------------------------------------------------------------
    *_sets(
        "finite",
        [
            ("clock.horizon=.inf", f"clock.horizon: {NONFINITE} (got inf)"),
            ("clock.horizon=.nan", f"clock.horizon: {NONFINITE} (got nan)"),
            ("clock.horizon=-.inf", f"clock.horizon: {NONFINITE} (got -inf)"),
            ("clock.horizon=1e400s", f"clock.horizon: {NONFINITE} (got '1e400s')"),
            ("clock.horizon=" + "9" * 5000, f"clock.horizon: {NONFINITE} (got a number of 5000 digits)"),
            ("clock.drain=.inf", f"clock.drain: {NONFINITE} (got inf)"),
            ("clock.drain=.nan", f"clock.drain: {NONFINITE} (got nan)"),
            ("clock.warmup=.nan", f"clock.warmup: {NONFINITE} (got nan)"),
            ("workload.inbound.volume=.inf", f"workload.inbound.volume: {NONFINITE} (got inf)"),
            ("workload.inbound.volume=.nan", f"workload.inbound.volume: {NONFINITE} (got nan)"),
            ("workload.inbound.volume=1e400/day", f"workload.inbound.volume: {NONFINITE} (got '1e400/day')"),
            ("workload.inbound.weekday.mon=.nan", f"workload.inbound.weekday.mon: {NONFINITE} (got nan)"),
            ("workload.inbound.weekday.tue=.inf", f"workload.inbound.weekday.tue: {NONFINITE} (got inf)"),
            (
                "workload.inbound.classes.ham.diurnal[0]=.nan",
                f"workload.inbound.classes.ham.diurnal[0]: {NONFINITE} (got nan)",
            ),
            (
                "workload.inbound.classes.ham.diurnal[3]=.inf",
                f"workload.inbound.classes.ham.diurnal[3]: {NONFINITE} (got inf)",
            ),
            ("workload.inbound.transfer_rate=.inf", f"workload.inbound.transfer_rate: {NONFINITE} (got inf)"),
            (
                "workload.inbound.classes.ham.share=.nan",
                f"workload.inbound.classes.ham.share: {NONFINITE} (got nan)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: lognormal, median: 4KB, sigma: .inf}",
                f"workload.inbound.classes.spam.size.sigma: {NONFINITE} (got inf)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: constant, value: .nan}",
                f"workload.inbound.classes.spam.size.value: {NONFINITE} (got nan)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: exponential, mean: .inf}",
                f"workload.inbound.classes.spam.size.mean: {NONFINITE} (got inf)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: empirical, points: [1KB, .inf]}",
                f"workload.inbound.classes.spam.size.points[1]: {NONFINITE} (got inf)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: empirical, quantiles: [[0, 1KB], [.nan, 2KB], [1, 3KB]]}",
                f"workload.inbound.classes.spam.size.quantiles[1][0]: {NONFINITE} (got nan)",
            ),
            (
                "workload.inbound.classes.ham.recipients={dist: zipf, a: .inf, max: 50}",
                f"workload.inbound.classes.ham.recipients.a: {NONFINITE} (got inf)",
            ),
            (
                "workload.inbound.classes.ham.spam_score={dist: constant, value: .nan}",
                f"workload.inbound.classes.ham.spam_score.value: {NONFINITE} (got nan)",
            ),
            (
                "platform.frontend.demand={dist: exponential, mean: .inf}",
                f"platform.frontend.demand.mean: {NONFINITE} (got inf)",
            ),
            (
                "platform.frontend.demand_per_kb=.nan",
                f"platform.frontend.demand_per_kb: {NONFINITE} (got nan)",
            ),
            (
                "platform.frontend.milter_timeout=.inf",
                f"platform.frontend.milter_timeout: {NONFINITE} (got inf)",
            ),
            ("platform.scanner.grace=.inf", f"platform.scanner.grace: {NONFINITE} (got inf)"),
            (
                "platform.network.internet_latency=.nan",
                f"platform.network.internet_latency: {NONFINITE} (got nan)",
            ),
            ("platform.network.lan_latency=.inf", f"platform.network.lan_latency: {NONFINITE} (got inf)"),
            (
                "platform.load_balancer.keepalive_interval=.inf",
                f"platform.load_balancer.keepalive_interval: {NONFINITE} (got inf)",
            ),
            (
                "platform.load_balancer.takeover=.nan",
                f"platform.load_balancer.takeover: {NONFINITE} (got nan)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.ipc=.inf",
                f"hardware.models.sun-x4100-opteron-2.4.ipc: {NONFINITE} (got inf)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.ghz=.inf",
                f"hardware.models.sun-x4100-opteron-2.4.ghz: {NONFINITE} (got inf)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.ghz=.nan",
                f"hardware.models.sun-x4100-opteron-2.4.ghz: {NONFINITE} (got nan)",
            ),
            ("workload.mailboxes.quota=.inf", f"workload.mailboxes.quota: {NONFINITE} (got inf)"),
            ("workload.mailboxes.popularity=.nan", f"workload.mailboxes.popularity: {NONFINITE} (got nan)"),
            ("workload.mailboxes.quarantine=.nan", f"workload.mailboxes.quarantine: {NONFINITE} (got nan)"),
            (
                "workload.clients.retry=.inf",
                f"workload.clients.retry: {NONFINITE} (got inf)",
            ),
            ("policies.exim.queue_interval=.inf", f"policies.exim.queue_interval: {NONFINITE} (got inf)"),
            (
                "policies.exim.retry_interval_max=.nan",
                f"policies.exim.retry_interval_max: {NONFINITE} (got nan)",
            ),
            ("policies.exim.notice_size=.inf", f"policies.exim.notice_size: {NONFINITE} (got inf)"),
            ("outputs.sample_interval=.nan", f"outputs.sample_interval: {NONFINITE} (got nan)"),
            ("outputs.sample_interval=.inf", f"outputs.sample_interval: {NONFINITE} (got inf)"),
            ("outputs.quality.reply_within=.inf", f"outputs.quality.reply_within: {NONFINITE} (got inf)"),
            ("outputs.quality.reply_share=.nan", f"outputs.quality.reply_share: {NONFINITE} (got nan)"),
            (
                "faults=[{kind: outage, target: store, at: 1h, duration: .inf}]",
                f"faults[0].duration: {NONFINITE} (got inf)",
            ),
            (
                "faults=[{kind: outage, target: store, at: .nan, duration: 1h}]",
                f"faults[0].at: {NONFINITE} (got nan)",
            ),
            (
                "faults=[{kind: random, target: fe1, mtbf: {dist: exponential, mean: .inf}, mttr: {dist: constant, value: 1m}}]",
                f"faults[0].mtbf.mean: {NONFINITE} (got inf)",
            ),
            (
                "workload.inbound.classes.ham.sender.retry_interval_max=.inf",
                f"workload.inbound.classes.ham.sender.retry_interval_max: {NONFINITE} (got inf)",
            ),
        ],
    ),
    # -- numbers beyond what a machine can hold ---------------------------------------------------------------
    *_sets(
        "bound",
        [
            (
                "platform.frontend.servers=1e26",
                "platform.frontend.servers: expected a whole number (got '1e26')",
            ),
            (
                "platform.frontend.servers=100000000000",
                "platform.frontend.servers: must be less than or equal to 100000 (got 100000000000)",
            ),
            (
                "platform.ldap.servers=1000000000000",
                "platform.ldap.servers: must be less than or equal to 100000 (got 1000000000000)",
            ),
            (
                "platform.frontend.servers=true",
                "platform.frontend.servers: expected a whole number (got True)",
            ),
            (
                "platform.frontend.members[0].count=100000000",
                "platform.frontend.members[0].count: must be less than or equal to 1000 (got 100000000)",
            ),
            (
                "platform.frontend.members[0].count=-1",
                "platform.frontend.members[0].count: must be greater than or equal to 0 (got -1)",
            ),
            (
                "platform.frontend.smtp_accept_max=10000000000",
                "platform.frontend.smtp_accept_max: must be less than or equal to 100000 (got 10000000000)",
            ),
            (
                "platform.scanner.concurrency=1e12",
                "platform.scanner.concurrency: expected a whole number (got '1e12')",
            ),
            (
                "workload.mailboxes.count=1000000000000",
                "workload.mailboxes.count: must be less than or equal to 10000000 (got 1000000000000)",
            ),
            ("workload.mailboxes.count=true", "workload.mailboxes.count: expected a whole number (got True)"),
            (
                "workload.inbound.classes.ham.recipients={dist: zipf, a: 2, max: 100000000000}",
                "workload.inbound.classes.ham.recipients.max: must be less than or equal to 100000 (got 100000000000)",
            ),
            (
                "policies.exim.queue_run_max=100000000",
                "policies.exim.queue_run_max: must be less than or equal to 10000 (got 100000000)",
            ),
            (
                "platform.store.metadata_ops=1000000000",
                "platform.store.metadata_ops: must be less than or equal to 1000 (got 1000000000)",
            ),
            (
                "clock.start=0001-01-01 00:00",
                "clock.start: must lie between 1970-01-01 and 2200-01-01 (got 1-01-01 00:00)",
            ),
            (
                "clock.start=9999-12-31 23:00",
                "clock.start: must lie between 1970-01-01 and 2200-01-01 (got 9999-12-31 23:00)",
            ),
            (
                "clock.start=2010-05-03T00:00:00+25:00",
                "clock.start: expected a date-time such as 2010-05-03 00:00 or 2010-05-03T00:00:00+02:00 (got '2010-05-03T00:00:00+25:00')",
            ),
            ("clock.horizon=1000000d", "clock.horizon: must be at most 3650d"),
            ("clock.drain=100000d", "clock.drain: must be at most 3650d"),
            (
                "outputs.sample_interval=1us",
                "outputs.sample_interval: 90,000,000,000 samples in the run (horizon + drain 25h); at most 10,000,000: give at least 10ms",
            ),
            (
                "outputs.sample_interval=1ms",
                "outputs.sample_interval: 90,000,000 samples in the run (horizon + drain 25h); at most 10,000,000: give at least 10ms",
            ),
            (
                "faults=[{kind: random, target: '*', mtbf: {dist: constant, value: 0}, mttr: {dist: constant, value: 0}}]",
                "faults[0].mtbf: can be 0: failures and repairs would follow each other at one instant forever; give a distribution of times > 0"
                "\n--set faults=[{kind: random, target: '*', mtbf: {dist: constant, value: 0}, mttr: {dis...: "
                "faults[0].mttr: can be 0: failures and repairs would follow each other at one instant forever; give a distribution of times > 0",
            ),
            (
                "faults=[{kind: random, target: '*', mtbf: {dist: constant, value: 1h}, mttr: {dist: constant, value: 0}}]",
                "faults[0].mttr: can be 0: failures and repairs would follow each other at one instant forever; give a distribution of times > 0",
            ),
            (
                "faults=[{kind: random, target: '*', mtbf: {dist: empirical, points: [0, 1h]}, mttr: {dist: constant, value: 1m}}]",
                "faults[0].mtbf: can be 0: failures and repairs would follow each other at one instant forever; give a distribution of times > 0",
            ),
        ],
    ),
    Case(
        "bound-volume",
        ["validate", "{B}", "--force", "--set", "workload.inbound.volume=1.4e12/s"],
        "{B}: the run would offer about 117,158,400,000,000,000 messages, more than the ledger can number (2,147,483,647): shorten clock.horizon or lower the volume",
    ),
    Case(
        "bound-nodes",
        ["validate", "{B}", "--set", MANY_NODES],
        f"{_set_name(MANY_NODES)}: platform: 11,024 nodes; at most 10,000",
    ),
    # -- values out of range, of the wrong type, or naming what does not exist ----------------------------
    *_sets(
        "range",
        [
            ("clock.drain=-1h", "clock.drain: must be greater than or equal to 0 (got '-1h')"),
            ("clock.warmup=-1s", "clock.warmup: must be greater than or equal to 0 (got '-1s')"),
            ("workload.inbound.volume=-5/s", "workload.inbound.volume: must be greater than 0 (got '-5/s')"),
            ("workload.inbound.volume=0", "workload.inbound.volume: must be greater than 0 (got 0)"),
            (
                "workload.inbound.transfer_rate=0",
                "workload.inbound.transfer_rate: must be greater than 0 (got 0)",
            ),
            ("workload.inbound.weekday.mon=-1", "workload.inbound.weekday.mon: weekday factors must be >= 0"),
            (
                "workload.inbound.weekday.funday=1",
                "workload.inbound.weekday: unknown day 'funday' (expected mon, tue, wed, thu, fri, sat, sun)",
            ),
            (
                "workload.inbound.classes.ham.diurnal[0]=-1",
                "workload.inbound.classes.ham.diurnal[0]: hourly factors must be >= 0",
            ),
            (
                "workload.inbound.classes.ham.diurnal=[1, 2, 3]",
                "workload.inbound.classes.ham.diurnal: must have at least 24 entries (got 3)",
            ),
            (
                "workload.inbound.classes.ham.share=1.5",
                "workload.inbound.classes.ham.share: must be less than or equal to 1 (got 1.5)",
            ),
            (
                "workload.inbound.classes.ham.share=-0.1",
                "workload.inbound.classes.ham.share: must be greater than or equal to 0 (got -0.1)",
            ),
            ("workload.inbound.classes={}", "workload.inbound.classes: must have at least 1 entry (got 0)"),
            (
                "workload.mailboxes.quarantine=2",
                "workload.mailboxes.quarantine: must be less than or equal to 1 (got 2)",
            ),
            ("workload.mailboxes.quota=0", "workload.mailboxes.quota: must be greater than 0 (got 0)"),
            (
                "workload.clients.cleanup.share=2",
                "workload.clients.cleanup.share: must be less than or equal to 1 (got 2)",
            ),
            (
                "workload.mailboxes.count=-5",
                "workload.mailboxes.count: must be greater than or equal to 0 (got -5)",
            ),
            ("workload.mailboxes.count=1.5", "workload.mailboxes.count: expected a whole number (got 1.5)"),
            ("outputs.sample_interval=0", "outputs.sample_interval: must be greater than 0 (got 0)"),
            (
                "outputs.quality.reply_share=1.5",
                "outputs.quality.reply_share: must be less than or equal to 1 (got 1.5)",
            ),
            (
                "outputs.quality.error_rate_max=-1",
                "outputs.quality.error_rate_max: must be greater than or equal to 0 (got -1)",
            ),
            ("outputs.ledger=maybe", "outputs.ledger: expected true or false (got 'maybe')"),
            (
                "policies.spam.quarantine_at=200",
                "policies.spam.quarantine_at: must be less than or equal to 101 (got 200)",
            ),
            (
                "policies.spam.tag_sure=-1",
                "policies.spam.tag_sure: must be greater than or equal to 0 (got -1)",
            ),
            (
                "policies.balance=random_walk",
                "policies.balance: expected round_robin, weighted_round_robin, least_connections or random (got 'random_walk')",
            ),
            (
                "policies.exim.retry=F,2h",
                "policies.exim.retry: rule 1 'F,2h': expected F,<cutoff>,<interval> or G|H,<cutoff>,<interval>,<factor>",
            ),
            (
                "policies.exim.retry=* * F,2h,15m; F,1h,5m",
                "policies.exim.retry: rule 2 'F,1h,5m': cutoff times must increase (1h after 2h)",
            ),
            (
                "policies.exim.delay_warning=x",
                "policies.exim.delay_warning: delay_warning: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got 'x')",
            ),
            (
                "policies.exim.delay_warning=8h:4h",
                "policies.exim.delay_warning: delay_warning times must be positive and increase (got '8h:4h')",
            ),
            (
                "policies.exim.queue_run_max=0",
                "policies.exim.queue_run_max: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.frontend.members[0].count=1.5",
                "platform.frontend.members[0].count: expected a whole number (got 1.5)",
            ),
            (
                "platform.frontend.servers=0",
                "platform.frontend.servers: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.frontend.servers=-3",
                "platform.frontend.servers: must be greater than or equal to 1 (got -3)",
            ),
            (
                "platform.frontend.smtp_accept_max=0",
                "platform.frontend.smtp_accept_max: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.frontend.milter_timeout=0",
                "platform.frontend.milter_timeout: must be greater than 0 (got 0)",
            ),
            (
                "platform.frontend.balance=fastest",
                "platform.frontend.balance: expected round_robin, weighted_round_robin, least_connections or random (got 'fastest')",
            ),
            (
                "platform.frontend.routing={nowhere: 0.5}",
                "platform.frontend.routing.nowhere: unknown target 'nowhere' (expected one of: backup, blocklist, esx, frontend, internal, kdc, ldap, lists, load_balancer, replica, san, scan_central, scanner, store, delivered, rejected, bounced, quarantined, attachment_held, discarded, redirected, lost, expired_at_sender)",
            ),
            (
                "platform.frontend.routing={store: 1.5}",
                "platform.frontend.routing: probabilities must lie in [0, 1] (got {'store': 1.5})",
            ),
            (
                "platform.load_balancer.keepalive_failures=0",
                "platform.load_balancer.keepalive_failures: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.load_balancer.serves=[frontends]",
                "platform.load_balancer.serves[0]: unknown class 'frontends' behind the balancer (expected one of: blocklist, frontend, scanner, scan_central, store, replica, san, lists, ldap, kdc, internal, backup, esx)",
            ),
            (
                "platform.scanner.concurrency=0",
                "platform.scanner.concurrency: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.scanner.grace=-1h",
                "platform.scanner.grace: must be greater than or equal to 0 (got '-1h')",
            ),
            (
                "platform.store.metadata_ops=-1",
                "platform.store.metadata_ops: must be greater than or equal to 0 (got -1)",
            ),
            (
                "platform.store.disk.servers=0",
                "platform.store.disk.servers: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.ldap.members[0].hardware=sun-x9999",
                "platform.ldap.members[0].hardware: unknown hardware model 'sun-x9999' (known: cisco-css-11503, hp-dl580-g5, hp-msa1000, imt-service-host, iscsi-san, sun-storedge-3510, sun-x4100-opteron-2.4, sun-x4100-opteron-2.6, sun-x4100-opteron-2.8, sun-x4100m2-opteron-2.8)",
            ),
            (
                "platform.ldap.members[0].vm={vcpus: 0}",
                "platform.ldap.members[0].vm.vcpus: must be greater than or equal to 1 (got 0)",
            ),
            (
                "platform.frontend.members[1].vm.hosts=[esx99]",
                "platform.frontend.members[1].vm.hosts[0]: unknown ESX host 'esx99' (expected one of: esx1, esx2, esx3, esx4, esx5, esx6)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.sockets=0",
                "hardware.models.sun-x4100-opteron-2.4.sockets: must be greater than or equal to 1 (got 0)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.ghz=0",
                "hardware.models.sun-x4100-opteron-2.4.ghz: must be greater than 0 (got 0)",
            ),
            (
                "hardware.models.sun-x4100-opteron-2.4.ipc=-1",
                "hardware.models.sun-x4100-opteron-2.4.ipc: must be greater than 0 (got -1)",
            ),
            (
                "hardware.reference=nothing",
                "hardware.reference: unknown hardware model 'nothing' (known: cisco-css-11503, hp-dl580-g5, hp-msa1000, imt-service-host, iscsi-san, sun-storedge-3510, sun-x4100-opteron-2.4, sun-x4100-opteron-2.6, sun-x4100-opteron-2.8, sun-x4100m2-opteron-2.8)",
            ),
            (
                "hardware.reference=cisco-css-11503",
                "hardware.reference: the reference core must be a server model, not an appliance",
            ),
            (
                "workload.inbound.classes.ham.recipients={dist: zipf, a: 1, max: 50}",
                "workload.inbound.classes.ham.recipients.a: must be greater than 1 (got 1)",
            ),
            (
                "workload.inbound.classes.ham.recipients={dist: zipf, a: 2, max: 0}",
                "workload.inbound.classes.ham.recipients.max: must be greater than or equal to 1 (got 0)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: lognormal, median: 4KB, sigma: -1}",
                "workload.inbound.classes.spam.size.sigma: must be greater than or equal to 0 (got -1)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: exponential, mean: 0}",
                "workload.inbound.classes.spam.size.mean: must be greater than 0 (got 0)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: empirical, points: []}",
                "workload.inbound.classes.spam.size.points: must have at least 1 entry (got 0)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: empirical, quantiles: [[0, 2KB], [1, 1KB]]}",
                "workload.inbound.classes.spam.size: quantile values must not decrease",
            ),
            (
                "workload.inbound.classes.spam.size={dist: constant, value: -1}",
                "workload.inbound.classes.spam.size.value: must be greater than or equal to 0 (got -1)",
            ),
            (
                "workload.inbound.classes.spam.size={dist: constant}",
                "workload.inbound.classes.spam.size.value: required field missing",
            ),
            (
                "workload.inbound.classes.spam.size={dist: weibull, k: 2}",
                "workload.inbound.classes.spam.size: unknown dist 'weibull' (expected one of: constant, exponential, lognormal, empirical)",
            ),
            (
                "workload.inbound.classes.spam.size=4KB",
                "workload.inbound.classes.spam.size: expected a mapping (got '4KB')",
            ),
            (
                "workload.inbound.classes.ham.sender.retry=G,5d,5m",
                "workload.inbound.classes.ham.sender.retry: rule 1 'G,5d,5m': a G rule needs a multiplier",
            ),
            (
                "workload.inbound.classes.ham.sender.retrying_share=2",
                "workload.inbound.classes.ham.sender.retrying_share: must be less than or equal to 1 (got 2)",
            ),
            (
                "clock.start=yesterday",
                "clock.start: expected a date-time such as 2010-05-03 00:00 or 2010-05-03T00:00:00+02:00 (got 'yesterday')",
            ),
            (
                "clock.start=2010-02-30 00:00",
                "clock.start: expected a date-time such as 2010-05-03 00:00 or 2010-05-03T00:00:00+02:00 (got '2010-02-30 00:00')",
            ),
            ("clock.timezone=5", "clock.timezone: expected text (got 5)"),
            (
                "clock.timezone=Mars/Olympus",
                "clock.timezone: unknown time zone 'Mars/Olympus' (expected an IANA name such as Europe/Berlin)",
            ),
            ("meta.name=[a]", "meta.name: expected text"),
            ("meta=5", "meta: expected a mapping (got 5)"),
            ("platform=[]", "platform: expected a mapping"),
            (
                "faults=[{kind: meltdown}]",
                "faults[0]: unknown kind 'meltdown' (expected one of: outage, degraded, loss, random)",
            ),
            (
                "faults=[{kind: outage, target: nowhere, at: 1h, duration: 1h}]",
                "faults[0].target: 'nowhere' matches no node, station or class",
            ),
            (
                "faults=[{kind: outage, target: store, at: 30d, duration: 1h}]",
                "faults[0].at: starts after the end of the run (horizon + drain)",
            ),
            (
                "faults=[{kind: outage, target: store, at: 1h, duration: 1h, until: 3h}]",
                "faults[0]: give exactly one of 'duration' or 'until'",
            ),
            (
                "workload.sources=[{name: a, enter: nowhere, rate: 1/s}]",
                "workload.sources[0].enter: unknown target 'nowhere' (expected one of: backup, blocklist, esx, frontend, internal, kdc, ldap, lists, load_balancer, replica, san, scan_central, scanner, store)",
            ),
            (
                "workload.sources=[{name: a, enter: store, rate: 1/s}, {name: a, enter: store, rate: 1/s}]",
                "workload.sources: two sources are named 'a'",
            ),
            (
                "nonsense.section=1",
                "nonsense: unknown field (expected one of: meta, clock, hardware, platform, workload, policies, faults, expect, outputs)",
            ),
        ],
    ),
    # -- expectations that cannot be read ------------------------------------------------------------------
    *_sets(
        "expect",
        [
            (
                "expect+=recipients.lost ~ 0",
                "expect[0]: expected an operator (== != <= >= < >) after 'recipients.lost' (got '~ 0')",
            ),
            (
                "expect=[nothing.x == 1]",
                "expect[0]: no 'nothing' in the results (expected one of: scenario, seed, simulated_seconds, messages_offered, recipients, conservation_ok, conservation, by_traffic_class, by_stage, directions, delivery_latency, components, queues, incidents, oracle, peak_hour, funnel, service_quality, smtp, submission, remote, internal, mailman, balancer, mailboxes, scanners, lmtp_replies, lmtp_latency, storage, backup, clients, quarantine, sieve, replication)",
            ),
            (
                "expect+=__import__('os').system('x') == 0",
                "expect[0]: expected an operator (== != <= >= < >) after '__import__' (got \"('os').system('x') == 0\")",
            ),
            (
                "expect+=recipients.lost == lots",
                "expect[0]: expected a number, a duration (1h), a size (4KB), true, false or a quoted string (got 'lots')",
            ),
            ("expect=5", "expect: expected a list (got 5)"),
        ],
    ),
    # -- --set itself -------------------------------------------------------------------------------------
    *_sets(
        "set",
        [
            ("=5", "empty field name in path"),
            ("clock.horizon", "expected dotted.path=value"),
            ("clock..horizon=1h", "empty field name in path"),
            (".clock.horizon=1h", "empty field name in path"),
            ("clock.horizon.x=1h", "clock.horizon: is a value, not a section"),
            ("platform.frontend.members[9].count=1", "platform.frontend.members: no such list item"),
            ("platform.frontend.members[-1].count=1", "platform.frontend.members: no such list item"),
            (
                "clock.horizon=[1h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '[1h')",
            ),
            (
                "clock.horizon=!!python/object/apply:os.system [echo hi]",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '!!python/object/apply:os.system [echo hi]')",
            ),
            (
                "clock.horizon=!custom 1h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '!custom 1h')",
            ),
            (
                "__class__.__init__.__globals__=x",
                "__class__: unknown field (expected one of: meta, clock, hardware, platform, workload, policies, faults, expect, outputs)",
            ),
            (
                "clock.horizon=1h\u0001",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1h\\x01')",
            ),
            ("meta.name=", "meta.name: expected text (got None)"),
            ("clock=5", "clock: expected a mapping (got 5)"),
            ("faults=5", "faults: expected a list (got 5)"),
            ("faults=[5]", "faults[0]: expected a mapping (got 5)"),
        ],
    ),
    # -- compound durations that are wrong --------------------------------------------------------------------
    *_sets(
        "duration",
        [
            (
                "clock.horizon=1d-2h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1d-2h')",
            ),
            (
                "clock.horizon=2h1d",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '2h1d')",
            ),
            (
                "clock.horizon=1h1h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1h1h')",
            ),
            (
                "clock.horizon=1 parsec",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1 parsec')",
            ),
            (
                "clock.horizon=1e400d2h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1e400d2h')",
            ),
            (
                "clock.horizon=P1D",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got 'P1D')",
            ),
            (
                "clock.horizon=true",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got True)",
            ),
            (
                "clock.horizon=1,5h",
                "clock.horizon: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '1,5h')",
            ),
            (
                "workload.inbound.volume=1.4M",
                "workload.inbound.volume: expected a rate such as 2/s, 30/min, 500/h or 1.4M/day (got '1.4M')",
            ),
            (
                "workload.mailboxes.quota=500 elephants",
                "workload.mailboxes.quota: expected a size such as 512B, 4KB or 10MB (got '500 elephants')",
            ),
        ],
    ),
    # -- cross-field checks name the field ----------------------------------------------------------------
    *_sets(
        "cross",
        [
            ("clock.warmup=1d", "clock.warmup: warmup must be shorter than the horizon"),
            (
                "workload.inbound.classes.ham.share=0.5",
                "workload.inbound.classes: class shares sum to 1.4, not 1",
            ),
            ("policies.spam.tag_maybe=80", "policies.spam.tag_maybe: tag_maybe must not be above tag_sure"),
            (
                "workload.mailboxes.deactivated=0.99",
                "workload.mailboxes.deactivated: deactivated + unknown + missing = 1.011, more than 1",
            ),
        ],
    ),
    # -- the command line ------------------------------------------------------------------------------------
    Case(
        "seed-negative",
        ["run", "{B}", "--seed", "-1", "--out", "{T}/o"],
        "mailtwin run: error: argument --seed: must be a whole number from 0 to 2**63-1 (got '-1')",
    ),
    Case(
        "seed-text",
        ["run", "{B}", "--seed", "abc", "--out", "{T}/o"],
        "mailtwin run: error: argument --seed: must be a whole number from 0 to 2**63-1 (got 'abc')",
    ),
    Case(
        "seed-float",
        ["run", "{B}", "--seed", "1.5", "--out", "{T}/o"],
        "mailtwin run: error: argument --seed: must be a whole number from 0 to 2**63-1 (got '1.5')",
    ),
    Case(
        "seed-huge",
        ["run", "{B}", "--seed", str(2**70), "--out", "{T}/o"],
        f"mailtwin run: error: argument --seed: must be a whole number from 0 to 2**63-1 (got '{2**70}')",
    ),
    Case("out-empty", ["run", "{B}", "--out", ""], "--out '': an empty name is not a folder"),
    Case(
        "out-file",
        ["run", "{B}", "--out", "{T}/file"],
        "--out {T}/file: exists and is not a folder",
        setup="a_file",
    ),
    Case("out-devnull", ["run", "{B}", "--out", "/dev/null"], "--out /dev/null: exists and is not a folder"),
    Case(
        "out-parent-file",
        ["run", "{B}", "--out", "{T}/file/sub"],
        "--out {T}/file/sub: {T}/file is not a folder",
        setup="a_file",
    ),
    Case(
        "out-long",
        ["run", "{B}", "--out", "{T}/" + "x" * 300],
        "--out {T}/" + "x" * 300 + ": a name in the path is longer than 255 bytes",
    ),
    Case(
        "out-readonly",
        ["run", "{B}", "--out", "{T}/ro/sub"],
        "--out {T}/ro/sub: cannot write in {T}/ro (permission denied)",
        setup="read_only",
        tags=["not-root"],
    ),
    Case(
        "out-proc",
        ["run", "{B}", "--out", "/proc/mailtwin"],
        "--out /proc/mailtwin: cannot write in /proc (permission denied)",
        tags=["not-root"],
    ),
    # -- files that are not YAML scenarios --------------------------------------------------------------------
    Case(
        "file-binary",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: not a text file (a NUL byte at line 1)",
        setup="binary",
    ),
    Case(
        "file-latin1",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: not UTF-8 text (byte 0xe4 at line 1, column 15); save the file as UTF-8",
        setup="latin1",
    ),
    Case(
        "file-utf16",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: not UTF-8 text (UTF-16); save the file as UTF-8",
        setup="utf16",
    ),
    Case(
        "file-nul",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:2: not a text file (a NUL byte at line 2)",
        setup="nul",
    ),
    Case(
        "file-custom-tag",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: YAML tag '!x' is not allowed (plain YAML only)",
        setup="custom_tag",
    ),
    Case(
        "file-python-tag",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: YAML tag '!!python/object/apply:os.system' is not allowed (plain YAML only)",
        setup="python_tag",
    ),
    Case(
        "file-laughs",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:7: expands to more than 1,000,000 values (YAML aliases)",
        setup="laughs",
    ),
    Case(
        "file-alias",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:3: other: unknown field (expected one of: meta, clock, hardware, platform, workload, policies, faults, expect, outputs)",
        setup="alias",
    ),
    Case(
        "file-deep-list",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: nested more than 100 levels deep",
        setup="deep_list",
    ),
    Case(
        "file-deep-flow-map",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: nested more than 100 levels deep",
        setup="deep_flow",
    ),
    Case(
        "file-deep-block-map",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: nested more than 100 levels deep",
        setup="deep_block",
    ),
    Case(
        "file-huge",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: 50,000,000 bytes: larger than 10,000,000 bytes, more than any scenario needs",
        setup="huge",
    ),
    Case("file-dev-zero", ["validate", "/dev/zero"], "/dev/zero: not a regular file"),
    Case("file-dev-null", ["validate", "/dev/null"], "/dev/null: not a regular file"),
    Case("file-fifo", ["validate", "{T}/fifo"], "{T}/fifo: not a regular file", setup="fifo"),
    Case("file-dir", ["validate", "{T}"], "{T}: not a regular file"),
    Case(
        "file-missing",
        ["validate", "{T}/nope.yaml"],
        "{T}/nope.yaml: cannot read file: No such file or directory",
    ),
    Case(
        "file-empty",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: a scenario file must be a mapping of sections",
        setup="empty",
    ),
    Case(
        "file-comments",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml: a scenario file must be a mapping of sections",
        setup="comments",
    ),
    Case(
        "file-list",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: a scenario file must be a mapping of sections",
        setup="a_list",
    ),
    Case(
        "file-scalar",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:1: a scenario file must be a mapping of sections",
        setup="a_scalar",
    ),
    Case(
        "file-two-docs",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:6: YAML syntax error: a scenario is one YAML document; this file has a second one (---)",
        setup="two_docs",
    ),
    Case("file-bom", ["validate", "{T}/f.yaml"], "", code=0, setup="bom"),
    Case(
        "file-int-key",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:9: a key must be a name, not '5'",
        setup="int_key",
    ),
    Case(
        "file-null-key",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:9: a key must be a name, not '~'",
        setup="null_key",
    ),
    Case(
        "file-complex-key",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:9: a key must be a name, not a list or mapping",
        setup="complex_key",
    ),
    Case(
        "file-long-int",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:2: clock.horizon: " + NONFINITE + " (got a number of 5000 digits)",
        setup="long_int",
    ),
    Case(
        "file-merge-key",
        ["validate", "{T}/f.yaml"],
        "{T}/f.yaml:2: base: unknown field (expected one of: meta, clock, hardware, platform, workload, policies, faults, expect, outputs)",
        setup="merge_key",
    ),
    Case(
        "validate-several",
        ["validate", "{T}/a.yaml", "{T}/f.yaml", "{T}/b.yaml"],
        "{T}/f.yaml:1: not a text file (a NUL byte at line 1)",
        setup="several",
    ),
    # -- the other commands -------------------------------------------------------------------------------
    Case("schema-out-dir", ["schema", "--out", "{T}"], "--out {T}: is a folder, not a file"),
    Case(
        "schema-out-parent",
        ["schema", "--out", "{T}/file/x.json"],
        "--out {T}/file/x.json: {T}/file is not a folder",
        setup="a_file",
    ),
    Case(
        "topology-png-bad",
        ["topology", "{B}", "--png", "{T}/missing/t.png"],
        "--png {T}/missing/t.png: the folder {T}/missing does not exist",
    ),
    Case("topology-png-dir", ["topology", "{B}", "--png", "{T}"], "--png {T}: is a folder, not a file"),
    Case(
        "retry-negative",
        ["retry-schedule", "F,-2h,15m"],
        "mailtwin retry-schedule: rule 1 'F,-2h,15m': the cutoff must be positive",
    ),
    Case(
        "retry-zero-interval",
        ["retry-schedule", "F,2h,0s"],
        "mailtwin retry-schedule: rule 1 'F,2h,0s': the interval must be positive",
    ),
    Case(
        "retry-tiny",
        ["retry-schedule", "F,2h,1us", "--queue-interval", "1us"],
        "mailtwin retry-schedule: rule 1 'F,2h,1us': 7,200,000,000 tries of one message; at most 100,000 (an interval of at least 1s)",
    ),
    Case(
        "retry-inf",
        ["retry-schedule", "F,2h,15m", "--queue-interval", ".inf"],
        "mailtwin retry-schedule: --queue-interval: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got '.inf')",
    ),
    Case(
        "retry-horizon-inf",
        ["retry-schedule", "F,2h,15m", "--horizon", "1e400d"],
        "mailtwin retry-schedule: --horizon: must be a finite number (got '1e400d')",
    ),
    Case(
        "retry-nan-rule",
        ["retry-schedule", "F,nan,15m"],
        "mailtwin retry-schedule: rule 1 'F,nan,15m': expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got 'nan')",
    ),
    Case(
        "retry-garbage",
        ["retry-schedule", "hello"],
        "mailtwin retry-schedule: 'hello': expected '<pattern> <error> <rules>' or just rules",
    ),
    Case(
        "retry-warning-bad",
        ["retry-schedule", "F,2h,15m", "--delay-warning", "x"],
        "mailtwin retry-schedule: --delay-warning x: delay_warning: expected a duration such as 90s, 15m, 2h, 7d or 1d2h (got 'x')",
    ),
    Case(
        "retry-seed-text",
        ["retry-schedule", "F,2h,15m", "--seed", "x"],
        "mailtwin retry-schedule: error: argument --seed: must be a whole number from 0 to 2**63-1 (got 'x')",
    ),
]

# -- what the file cases need ------------------------------------------------------------------------------


def a_file(t: Path) -> None:
    (t / "file").write_text("hi\n")


def read_only(t: Path) -> None:
    (t / "ro").mkdir()
    (t / "ro").chmod(stat.S_IRUSR | stat.S_IXUSR)


def binary(t: Path) -> None:
    (t / "f.yaml").write_bytes(bytes(range(256)) * 4)


def latin1(t: Path) -> None:
    (t / "f.yaml").write_bytes("meta: {name: K\xe4se}\n".encode("latin-1"))


def utf16(t: Path) -> None:
    (t / "f.yaml").write_bytes(SMALL.encode("utf-16"))


def nul(t: Path) -> None:
    (t / "f.yaml").write_bytes(b"meta: {name: x}\nclock: {start: 2010\x00-05-03}\n")


def custom_tag(t: Path) -> None:
    (t / "f.yaml").write_text("meta: {name: !x y}\n")


def python_tag(t: Path) -> None:
    (t / "f.yaml").write_text("meta: !!python/object/apply:os.system [echo hi]\n")


def laughs(t: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (t / "f.yaml").write_text("\n".join(lines) + "\n")


def alias(t: Path) -> None:
    (t / "f.yaml").write_text(
        "meta: {name: x}\nclock: &c {start: 2010-05-03 00:00, horizon: 1h}\nother: *c\n"
    )


def merge_key(t: Path) -> None:
    (t / "f.yaml").write_text(
        "meta: {name: x}\nbase: &b {start: 2010-05-03 00:00}\nclock: {<<: *b, horizon: 1h}\n"
    )


def deep_list(t: Path) -> None:
    (t / "f.yaml").write_text("meta: " + "[" * 5000 + "]" * 5000 + "\n")


def deep_flow(t: Path) -> None:
    (t / "f.yaml").write_text("meta: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n")


def deep_block(t: Path) -> None:
    (t / "f.yaml").write_text("".join("  " * i + f"k{i}:\n" for i in range(3000)) + "  " * 3000 + "v: 1\n")


def huge(t: Path) -> None:
    with open(t / "f.yaml", "w") as f:
        f.write(SMALL)
        f.write("# " + "x" * 98 + "\n")
        f.truncate(50_000_000)


def fifo(t: Path) -> None:
    os.mkfifo(t / "fifo")


def empty(t: Path) -> None:
    (t / "f.yaml").write_text("")


def comments(t: Path) -> None:
    (t / "f.yaml").write_text("# nothing but a comment\n")


def a_list(t: Path) -> None:
    (t / "f.yaml").write_text("- meta\n- clock\n")


def a_scalar(t: Path) -> None:
    (t / "f.yaml").write_text("hello\n")


def two_docs(t: Path) -> None:
    (t / "f.yaml").write_text(SMALL.replace("workload:", "---\nworkload:", 1))


def bom(t: Path) -> None:
    (t / "f.yaml").write_bytes(b"\xef\xbb\xbf" + SMALL.encode())


def int_key(t: Path) -> None:
    (t / "f.yaml").write_text(SMALL + "5: five\n")


def null_key(t: Path) -> None:
    (t / "f.yaml").write_text(SMALL + "~: nothing\n")


def complex_key(t: Path) -> None:
    (t / "f.yaml").write_text(SMALL + "? [a, b]\n: c\n")


def long_int(t: Path) -> None:
    (t / "f.yaml").write_text(SMALL.replace("horizon: 1h}", "horizon: " + "9" * 5000 + "}"))


def several(t: Path) -> None:
    (t / "a.yaml").write_text(SMALL)
    (t / "b.yaml").write_text(SMALL)
    binary(t)


def prepare(case: Case, t: Path) -> list[str]:
    """Prepare the scratch folder ``t`` for ``case``; returns its command line."""
    if case.setup:
        globals()[case.setup](t)
    return [fill(a, t) for a in case.argv]


def fill(text: str, t: Path) -> str:
    return text.replace("{B}", str(BASELINE)).replace("{T}", str(t))


def main() -> None:  # pragma: no cover - a measuring tool, run by hand
    """Every case (and every file of tests/data/bad) in its own process with a 60 s timeout and a 4 GiB
    address-space cap; prints the counts by outcome and the cases that did not end cleanly."""
    import resource
    import subprocess
    import sys
    import tempfile

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    cases = list(CASES) + [
        Case(f"badfile-{p.stem}", ["validate", str(p)], "?") for p in sorted(BAD_FILES.glob("*.yaml"))
    ]
    counts: dict[str, list[str]] = {}
    for case in cases:
        with tempfile.TemporaryDirectory() as d:
            t = Path(d)
            argv = prepare(case, t)
            try:
                p = subprocess.run(
                    [sys.executable, "-m", "twin", *argv],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    preexec_fn=limit,
                    cwd=t,
                )
                err = p.stderr
                if "Traceback" in err:
                    outcome = "traceback"
                elif p.returncode == case.code and (case.code != 2 or len(err.strip().splitlines()) >= 1):
                    outcome = "clean" if case.code != 2 else "clean exit 2"
                elif p.returncode == 0:
                    outcome = "silently accepted"
                else:
                    outcome = f"exit {p.returncode}"
            except subprocess.TimeoutExpired:
                outcome = "hang (60 s)"
            for sub in t.rglob("*"):
                sub.chmod(0o700) if sub.is_dir() else None
        counts.setdefault(outcome, []).append(case.id)
    for outcome, ids in sorted(counts.items(), key=lambda kv: -len(kv[1])):
        print(f"{outcome:<20}{len(ids):>5}  " + (" ".join(ids) if outcome != "clean exit 2" else ""))
    print(f"{'total':<20}{len(cases):>5}")


if __name__ == "__main__":
    main()
