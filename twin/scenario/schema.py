"""The scenario file as pydantic models: what a planner may write, with defaults and units.

Unknown fields are errors everywhere (``extra="forbid"``): a typo must never silently fall back to a
default. Cross-references (a hardware name, a routing target) are checked in ``references.py`` so that
each problem is reported at the field that holds it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from twin.scenario.distributions import DurationDist, NumberDist, SizeDist
from twin.scenario.quantities import Count, Duration, Rate, Real, Size

# Terminal states of an offered recipient (docs/architecture.md principle 2). `pending` is not a terminal
# state; it is what a recipient still in the system at the end of the run is counted as.
TERMINAL_STATES = (
    "delivered",
    "rejected",
    "bounced",
    "quarantined",
    "attachment_held",
    "discarded",
    "redirected",
    "lost",
    "expired_at_sender",
)
STATES = (*TERMINAL_STATES, "pending")

# Upper bounds on counts: not numbers of the platform, but what one machine can simulate (a count beyond
# them would exhaust memory while the model is built, long before a result).
MAX_INSTANCES = 1000  # instances of one member line of a class
MAX_SERVERS = 100_000  # servers, connection slots, concurrency of one node
MAX_MAILBOXES = 10_000_000
MAX_SPAN = 3650 * 86400.0  # horizon, drain, warm-up: ten years
# Start dates the calendar code handles (time zones, pandas timestamps of start + ten years).
EARLIEST, LATEST = dt.datetime(1970, 1, 1), dt.datetime(2200, 1, 1)

Balance = Literal["round_robin", "weighted_round_robin", "least_connections", "random"]


class FieldError(ValueError):
    """A check of several fields that is the fault of one of them: the loader reports it at ``field``
    (inside the model the validator belongs to; a tuple is a path into it), not at the model."""

    def __init__(self, field: str | int | tuple, message: str):
        super().__init__(message)
        self.field = field


class Strict(BaseModel):
    # NaN and infinity are refused in every number: nothing can be simulated with them.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class Meta(Strict):
    name: str = Field(min_length=1)
    description: str = ""


class Clock(Strict):
    start: Annotated[
        dt.datetime,
        WithJsonSchema(
            {
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$",
                "description": "simulation time 0, e.g. 2010-05-03 00:00 (a Monday); local time in "
                "timezone unless an offset is given",
            }
        ),
    ] = Field(description="simulation time 0, e.g. 2010-05-03 00:00 (a Monday)")
    timezone: str = Field(
        "Europe/Berlin", description="IANA zone for naive start times and local-time profiles"
    )
    horizon: Duration = Field(gt=0, description="how long sources offer traffic, e.g. 1d or 7d")
    drain: Duration = Field(
        0.0, ge=0, description="extra time after the horizon for work in flight to finish"
    )
    warmup: Duration = Field(
        0.0, ge=0, description="statistics of stations ignore customers arriving earlier"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
            raise ValueError(
                f"unknown time zone {v[:60]!r} (expected an IANA name such as Europe/Berlin)"
            ) from None
        return v

    @field_validator("start")
    @classmethod
    def _calendar(cls, v: dt.datetime) -> dt.datetime:
        if not EARLIEST <= v.replace(tzinfo=None) < LATEST:
            raise ValueError(
                f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (got {v:%Y-%m-%d %H:%M})"
            )
        return v

    @field_validator("horizon", "drain", "warmup")
    @classmethod
    def _span(cls, v: float) -> float:
        if v > MAX_SPAN:
            raise ValueError(f"must be at most {MAX_SPAN / 86400:g}d")
        return v

    @property
    def zone(self) -> ZoneInfo:
        """The time zone of local-time profiles (diurnal curves, weekdays) and of the time series."""
        return ZoneInfo(self.timezone)

    @property
    def t0(self) -> dt.datetime:
        """Simulation time 0 as an instant: a naive ``start`` is local time in ``timezone``. ``start``
        itself stays as the scenario gave it, so a resolved scenario replays the same run."""
        return self.start if self.start.tzinfo is not None else self.start.replace(tzinfo=self.zone)

    @model_validator(mode="after")
    def _warmup_before_horizon(self):
        if self.warmup >= self.horizon:
            raise FieldError("warmup", "warmup must be shorter than the horizon")
        return self


class HardwareModel(Strict):
    description: str = ""
    appliance: bool = Field(False, description="a box whose CPU is not modelled (e.g. a load balancer)")
    sockets: Count | None = Field(None, ge=1, le=64)
    cores_per_socket: Count | None = Field(None, ge=1, le=1024)
    ghz: Real | None = Field(None, gt=0)
    ipc: Real = Field(1.0, gt=0, description="work per clock relative to the reference generation")
    memory: Size | None = None

    @model_validator(mode="after")
    def _cpu_given(self):
        if not self.appliance:
            missing = [f for f in ("sockets", "cores_per_socket", "ghz") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"a server model needs {', '.join(missing)} (or appliance: true)")
        return self

    @property
    def cores(self) -> int:
        return (self.sockets or 0) * (self.cores_per_socket or 0)


class Hardware(Strict):
    reference: str = Field(
        "sun-x4100-opteron-2.4",
        description="the model one of whose cores defines 1 CPU-second of service demand",
    )
    models: dict[str, HardwareModel] = Field(
        default_factory=dict, description="models added to (or replacing) the shipped catalogue"
    )


class VirtualServer(Strict):
    vcpus: Count = Field(
        ge=1, le=1024, description="virtual CPUs (guaranteed resources on the ESX host, seed §1)"
    )
    memory: Size | None = None
    hosts: list[str] | None = Field(
        None, min_length=1, description="ESX hosts to place these VMs on, cycled; default: spread over all"
    )


class Member(Strict):
    count: Count = Field(ge=0, le=MAX_INSTANCES)
    hardware: str | None = Field(None, description="a physical server: catalogue model name")
    vm: VirtualServer | None = Field(None, description="a virtual server on the ESX cluster")
    names: list[str] | None = Field(None, description="explicit node names, one per member")

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.hardware is None) == (self.vm is None):
            raise ValueError("give exactly one of 'hardware' (physical) or 'vm' (virtual)")
        if self.names is not None and len(self.names) != self.count:
            raise FieldError("names", f"names lists {len(self.names)} names for count {self.count}")
        return self


class ComponentClass(Strict):
    """One documented class of platform components (docs/platform.md §1)."""

    members: list[Member] = Field(default_factory=list)
    demand: DurationDist | None = Field(
        None, description="CPU-seconds on the reference core per message handled; none: no CPU work modelled"
    )
    servers: Count | None = Field(
        None,
        ge=1,
        le=MAX_SERVERS,
        description="messages handled at once per instance; default: its CPU cores",
    )
    balance: Balance | None = Field(None, description="how a sender picks an instance; default from policies")
    routing: dict[str, Real] = Field(
        default_factory=dict,
        description="next class/station or terminal state -> probability; the rest leaves as delivered",
    )
    delivery: bool = Field(
        False,
        description="reached by a delivery from the accepting frontend's spool (LMTP/SMTP after the "
        "sender's transaction), under Exim's retry rules",
    )
    enabled: bool = True

    @field_validator("routing")
    @classmethod
    def _probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_probabilities(v)

    @property
    def count(self) -> int:
        return sum(m.count for m in self.members) if self.enabled else 0


class Disk(Strict):
    """A disk array as a queueing station: ``servers`` operations at once, each taking ``demand`` plus
    ``per_kb`` for every KB of the message written."""

    servers: Count = Field(
        1, ge=1, le=MAX_SERVERS, description="operations the array serves at once (spindles, controllers)"
    )
    demand: DurationDist = Field(description="seconds per operation (seek, metadata, sync)")
    per_kb: Duration = Field(0.0, ge=0, description="transfer seconds per KB of the message")
    capacity: Size | None = Field(
        None, gt=0, description="usable bytes of the array (after RAID); none: its filling is not tracked"
    )


class LoadBalancerClass(ComponentClass):
    """The redundant pair of Cisco CSS in front of the frontends and the scan cluster
    (docs/platform.md §A)."""

    serves: list[str] = Field(
        default_factory=lambda: ["frontend", "scanner"],
        description="classes reached through the balancer's virtual addresses",
    )
    keepalive_interval: Duration = Field(5.0, gt=0, description="keepalive probe period")
    keepalive_failures: Count = Field(
        3, ge=1, le=1000, description="failed probes in a row before a backend is marked dead"
    )
    takeover: Duration = Field(
        3.0, ge=0, description="the standby unit takes over this long after the active one fails"
    )


class FrontendClass(ComponentClass):
    """Exim on the SMTP frontends (docs/platform.md §3.1 stages 1-9)."""

    smtp_accept_max: Count = Field(
        20, ge=1, le=MAX_SERVERS, description="SMTP connections at once (Exim default)"
    )
    demand_per_kb: Duration = Field(0.0, ge=0, description="CPU-seconds per KB of DATA")
    disk: Disk | None = Field(None, description="the spool disk; none: its I/O is not modelled")
    blocklist_lookup: DurationDist | None = Field(
        None, description="time of the blocklist (DNSBL) query at connect; none: no lookup time"
    )
    milter_timeout: Duration = Field(
        300.0, gt=0, description="how long the frontend waits for the scan cluster before a 4xx"
    )


class ScannerClass(ComponentClass):
    """PureMessage scanners (docs/platform.md §A)."""

    demand_per_kb: Duration = Field(0.0, ge=0, description="CPU-seconds per KB scanned, on top of demand")
    concurrency: Count | None = Field(
        None,
        ge=1,
        le=MAX_SERVERS,
        description="milter connections a scanner takes at once; more are refused (4xx)",
    )
    grace: Duration = Field(
        7200.0, ge=0, description="how long scanners answer validly without the central server (seed: 2 h)"
    )


class StoreAccess(Strict):
    """What the users' IMAP, POP and webmail sessions cost a store (docs/clients.md). A FETCH or RETR also
    reads each message from the RAID array (one ``disk`` operation and ``per_kb`` per KB) and an EXPUNGE
    unlinks each deleted message file (one operation each)."""

    login: DurationDist = Field(
        description="CPU-seconds of a login on the reference core (TLS handshake, SASL, the mailbox's lookup)"
    )
    command: DurationDist = Field(
        description="CPU-seconds of any other command (SELECT, a check for new mail, FETCH, STORE, EXPUNGE)"
    )
    per_kb: Duration = Field(0.0, ge=0, description="CPU-seconds per KB a FETCH or RETR sends")
    metadata_ops: Count = Field(
        0, ge=0, le=1000, description="SAN I/O operations of a SELECT or an EXPUNGE (index, header, quota)"
    )


class StoreClass(ComponentClass):
    """Cyrus IMAP: LMTP delivery into mailboxes (docs/platform.md §A)."""

    demand_per_kb: Duration = Field(0.0, ge=0, description="CPU-seconds per KB delivered")
    disk: Disk | None = Field(None, description="the RAID array holding the messages")
    metadata_ops: Count = Field(
        0, ge=0, le=1000, description="metadata I/O operations per delivery on the SAN (index, cache, quota)"
    )
    over_quota_perm_failure: bool = Field(
        False, description="lmtp_over_quota_perm_failure: 552 (bounce) instead of 452 (retry)"
    )
    access: StoreAccess | None = Field(
        None, description="what the users' IMAP/POP sessions cost it; none: they cost nothing"
    )


class ReplicaClass(StoreClass):
    """The Cyrus replica and its rolling replication from the primary (seed §2; docs/platform.md §A,
    docs/failover.md). Its own fields (demand, disk, metadata_ops) are what applying a replicated message
    costs it, and what an LMTP delivery costs it once it has been promoted to primary."""

    sync_interval: DurationDist | None = Field(
        None,
        description="time between two runs of sync_client's rolling replication; each run replays what the "
        "log holds; none: the replica is not fed (no replication modelled)",
    )
    link_rate: Size = Field(
        100 * 1024**2, gt=0, description="bytes per second the replication link carries between the stores"
    )
    switchover: Duration | None = Field(
        None,
        gt=0,
        description="the manual switch-over: this long after the primary fails, the replica serves LMTP as "
        "the new primary (if the primary is still down); none: nobody switches over",
    )
    failback: bool = Field(
        True,
        description="once the old primary is back and has caught up, switch back to it (another "
        "switchover of deferred LMTP); false: the roles stay swapped",
    )
    full_resync: Duration = Field(
        6 * 3600.0,
        ge=0,
        description="copying every mailbox to a store that came back empty (after a loss) before it can "
        "take replication again",
    )


class EsxClass(ComponentClass):
    """The ESX cluster the virtual servers run on, with VMware HA (docs/platform.md §A)."""

    ha: bool = Field(False, description="VMware HA: restart a failed host's VMs on the surviving hosts")
    restart_delay: Duration = Field(
        120.0, ge=0, description="from a host's failure until its VMs run again on another host (HA)"
    )
    vms_per_host: Count | None = Field(
        None,
        ge=1,
        le=MAX_INSTANCES,
        description="admission control: the most VMs a host may run; HA restarts no VM on a full host; "
        "none: no limit",
    )


class BackupClass(ComponentClass):
    """The TSM server and the nightly incremental backup of the serving store (seed §2; docs/platform.md
    §A; docs/backup.md). The backup examines every file of the mailboxes, sends the new ones, and competes
    for the store's disk array and the SAN as ``sessions`` streams of requests of ``request`` seconds."""

    start: Duration = Field(
        20 * 3600.0, ge=0, lt=86400, description="local time of day the nightly backup starts, e.g. 20h"
    )
    window_end: Duration = Field(
        8 * 3600.0, ge=0, lt=86400, description="local time of day the backup should be done by, e.g. 8h"
    )
    examine_rate: Rate = Field(
        gt=0, description="message files examined a second while the backup has the disks to itself"
    )
    read_rate: Size = Field(gt=0, description="bytes of new files read and sent a second (disks to itself)")
    outstanding: Count = Field(
        1,
        ge=1,
        le=MAX_SERVERS,
        description="requests the backup keeps outstanding on a disk at once (its sessions times the I/Os "
        "each has in flight)",
    )
    request: Duration = Field(gt=0, description="disk time of one of the backup's requests")
    metadata_files: Count = Field(
        0, ge=0, le=1000, description="files per mailbox on the SAN (index, cache, header) it examines too"
    )
    retention: Duration = Field(
        90 * 86400.0, gt=0, description="how long a deleted message stays in the backup"
    )
    restore_rate: Size | None = Field(
        None,
        gt=0,
        description="bytes a second a restore writes back after both stores lost their data; none: no "
        "restore (the stores come back empty)",
    )


class SanClass(ComponentClass):
    """The iSCSI SAN with the stores' mailbox metadata (seed §2; docs/storage.md): its I/O is the class's
    ``demand`` per operation; its filling is the metadata of the mailboxes of every store on it."""

    capacity: Size | None = Field(None, gt=0, description="usable bytes; none: its filling is not tracked")
    metadata_share: Real = Field(
        0.0, ge=0, le=1, description="bytes of a store's mailbox metadata on the SAN per byte of mail"
    )


class Station(Strict):
    """A generic queueing station: `servers` identical servers, a FIFO queue, a service-time distribution."""

    servers: Count = Field(1, ge=1, le=MAX_SERVERS)
    service: DurationDist
    routing: dict[str, Real] = Field(default_factory=dict)

    @field_validator("routing")
    @classmethod
    def _probabilities(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_probabilities(v)


def _check_probabilities(v: dict[str, float]) -> dict[str, float]:
    bad = {k: p for k, p in v.items() if not 0 <= p <= 1}
    if bad:
        raise ValueError(f"probabilities must lie in [0, 1] (got {bad})")
    total = sum(v.values())
    if total > 1 + 1e-9:
        raise ValueError(f"probabilities sum to {total:g}, more than 1")
    return v


class Network(Strict):
    # Zero unless the scenario says otherwise: a platform number belongs in the scenario file.
    lan_latency: Duration = Field(
        0.0,
        ge=0,
        description="one-way latency between machines in the centre; inert so far: hops inside the centre "
        "take no time (docs/scenarios.md)",
    )
    internet_latency: Duration = Field(0.0, ge=0, description="one-way latency to remote mail servers")


# Component classes in the order docs/platform.md §1 lists them; topology.py knows how they connect.
COMPONENT_CLASSES = (
    "blocklist",
    "load_balancer",
    "frontend",
    "scanner",
    "scan_central",
    "store",
    "replica",
    "san",
    "lists",
    "ldap",
    "kdc",
    "internal",
    "backup",
    "esx",
)


class Platform(Strict):
    network: Network = Field(default_factory=Network)
    blocklist: ComponentClass = Field(
        default_factory=ComponentClass, description="the spam-sender blocklist service queried at connect"
    )
    load_balancer: LoadBalancerClass = Field(default_factory=LoadBalancerClass)
    frontend: FrontendClass = Field(default_factory=FrontendClass)
    scanner: ScannerClass = Field(default_factory=ScannerClass)
    scan_central: ComponentClass = Field(default_factory=ComponentClass)
    store: StoreClass = Field(default_factory=StoreClass, description="IMAP/POP3 primary (Cyrus)")
    replica: ReplicaClass = Field(default_factory=ReplicaClass, description="asynchronous Cyrus replica")
    san: SanClass = Field(default_factory=SanClass)
    lists: ComponentClass = Field(default_factory=ComponentClass)
    ldap: ComponentClass = Field(default_factory=ComponentClass)
    kdc: ComponentClass = Field(default_factory=ComponentClass)
    internal: ComponentClass = Field(default_factory=ComponentClass)
    backup: BackupClass | None = Field(
        None,
        description="the TSM server and the nightly backup of the store (docs/backup.md); none: no backup",
    )
    esx: EsxClass = Field(default_factory=EsxClass)
    stations: dict[str, Station] = Field(
        default_factory=dict, description="generic queueing stations (for studies and validation)"
    )

    def classes(self) -> dict[str, ComponentClass]:
        """The component classes the scenario has (an optional one it leaves out, such as the backup, is
        not among them)."""
        return {name: c for name in COMPONENT_CLASSES if (c := getattr(self, name)) is not None}


def _exim_syntax(parser: str, v: str) -> str:
    """Check ``v`` with one of twin.exim's parsers; its message becomes the validation error."""
    from twin.exim import queue, retry

    try:
        (getattr(retry, parser, None) or getattr(queue, parser))(v)
    except retry.RetryConfigError as exc:
        raise ValueError(str(exc)) from None
    return v


class Sender(Strict):
    """How the remote senders of a source react when the platform refuses a connection or answers 4xx."""

    retrying_share: Real = Field(
        1.0, ge=0, le=1, description="share of messages whose sender retries (most spam bots never do)"
    )
    retry: str = Field(
        "G,5d,5m,2",
        description="the senders' retry schedule in Exim rule syntax; default: Postfix's queue manager",
    )
    retry_interval_max: Duration = Field(4000.0, gt=0, description="longest gap between two tries")

    _check_retry = field_validator("retry")(lambda cls, v: _exim_syntax("parse_rules", v))


class Source(Strict):
    """A Poisson stream of messages entering the platform at one class or station."""

    name: str = Field(min_length=1)
    traffic_class: str = Field("inbound", min_length=1)
    enter: str = Field(description="class or station that receives the messages")
    rate: Rate = Field(gt=0, description="mean arrivals per second, e.g. 0.8/s or 1.4M/day")
    recipients: NumberDist = Field(
        default_factory=lambda: {"dist": "constant", "value": 1},
        validate_default=True,
        description="recipients per message (rounded up to a whole number >= 1)",
    )
    size: SizeDist = Field(default_factory=lambda: {"dist": "constant", "value": 0}, validate_default=True)
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="default: the horizon")
    sender: Sender = Field(default_factory=Sender)
    enabled: bool = True


def _share(description: str) -> float:
    return Field(0.0, ge=0, le=1, description=description)


class Expunge(Strict):
    """Users clean up full mailboxes: every ``every``, a ``share`` of the mailboxes at or over quota are
    expunged down to ``to`` times their quota."""

    every: Duration = Field(gt=0)
    share: Real = Field(ge=0, le=1)
    to: Real = Field(0.5, ge=0, le=1)


class SieveScript(Strict):
    """One script template: a real Sieve file that a ``share`` of the scripted mailboxes run at delivery
    (docs/sieve.md). ``text`` is the script itself; a scenario file gives ``file`` (a path relative to the
    scenario file that names it) and the loader reads it into ``text``, so a resolved scenario carries it."""

    file: str = Field("", description="the script's file, relative to the scenario file")
    text: str = Field("", description="the script (filled from file when the scenario is loaded)")
    share: Real = Field(ge=0, le=1, description="share of the mailboxes with a script that run this one")
    folders: list[str] = Field(
        default_factory=list, description="the folders these mailboxes have besides INBOX (case-sensitive)"
    )

    @model_validator(mode="after")
    def _has_text(self):
        if not self.text and not self.file:
            raise FieldError("file", "give the script's file (or its text)")
        return self


class Sieve(Strict):
    """Stage 12: the mailboxes with Sieve scripts, and the scripts they run (seed §3.2; docs/sieve.md)."""

    share: Real = _share("mailboxes with a Sieve script (docs/platform.md §B: 15 %)")
    scripts: list[SieveScript] = Field(min_length=1, description="the script templates and their shares")
    reply_size: Size = Field(2048, ge=0, description="size of a vacation reply")
    enabled: bool = True

    @model_validator(mode="after")
    def _shares(self):
        total = sum(s.share for s in self.scripts)
        if abs(total - 1) > 1e-6:
            raise FieldError("scripts", f"the scripts' shares sum to {total:g}, not 1")
        return self


def _initial_usage(whose: str):
    return Field(
        default_factory=lambda: {"dist": "constant", "value": 0},
        validate_default=True,
        description=f"initial usage of {whose} not over quota (capped below the quota)",
    )


class MailboxClass(Strict):
    """A kind of mailbox (students, staff, functional addresses) with its own quota and starting usage, and
    how much mail its addresses receive relative to the others (docs/mailboxes.md)."""

    share: Real = Field(ge=0, le=1, description="share of the population")
    quota: Size = Field(gt=0, description="mailbox quota")
    usage: SizeDist = _initial_usage("its mailboxes")
    weight: Real = Field(
        1.0, gt=0, description="how much mail an address of this class receives, relative to the others"
    )


class Mailboxes(Strict):
    """The addresses mail can be sent to (docs/platform.md §B). Shares are of the population; each address has
    one status (active, deactivated, unknown, missing) and independent quota and quarantine settings."""

    count: Count = Field(
        0, ge=0, le=MAX_MAILBOXES, description="addresses in the directory's domain, with their mailboxes"
    )
    deactivated: Real = _share("expired or locked accounts: rejected at RCPT (stage 2)")
    unknown: Real = _share("addresses with no directory entry (former users, typos): rejected (stage 3)")
    missing: Real = _share("in the directory but without a Cyrus mailbox: 550 5.1.1 at LMTP (stage 10)")
    over_quota: Real = _share("mailboxes at their quota when the run starts (stage 11)")
    quarantine: Real = _share("recipients who enabled the spam quarantine (stage 7)")
    quota: Size = Field(500 * 1024**2, gt=0, description="mailbox quota")
    usage: SizeDist = _initial_usage("mailboxes")
    popularity: Real = Field(
        0.0, ge=0, description="Zipf exponent of how often an address receives mail; 0: all alike"
    )
    classes: dict[str, MailboxClass] = Field(
        default_factory=dict,
        description="kinds of mailbox with their own quota and usage (their shares sum to 1); instead of "
        "quota and usage",
    )
    deactivate_after: Duration | None = Field(
        None,
        gt=0,
        description="a mailbox at its quota this long is deactivated (stage 2 refuses its mail) until it is "
        "cleaned up; none: never",
    )
    lock_check: Duration = Field(
        3600.0, gt=0, description="how often the directory's procedures deactivate and reactivate mailboxes"
    )
    expunge: Expunge | None = None
    message_size: Size = Field(
        50 * 1024, gt=0, description="mean size of a message kept in a mailbox: its usage in message files"
    )
    domain: str = Field(
        "uni-paderborn.de", min_length=1, description="the local mail domain (addresses u<N>@domain)"
    )
    sieve: Sieve | None = None

    @model_validator(mode="after")
    def _statuses_fit(self):
        total = self.deactivated + self.unknown + self.missing
        if total > 1 + 1e-9:
            raise FieldError("deactivated", f"deactivated + unknown + missing = {total:g}, more than 1")
        if self.classes:
            shares = sum(c.share for c in self.classes.values())
            if abs(shares - 1) > 1e-6:
                raise FieldError("classes", f"the classes' shares sum to {shares:g}, not 1")
            # (compared with the defaults, not with the fields set: a resolved scenario sets every field)
            default = type(self)()
            for name in ("quota", "usage"):
                if getattr(self, name) != getattr(default, name):
                    raise FieldError(name, "give the quota and usage per class (classes) or here, not both")
        return self


class Attachments(Strict):
    """The attachments of a class's messages (stage 5 checks their file names, seed §3.1 step 5)."""

    share: Real = _share("messages with an attachment")
    extensions: dict[str, Real] = Field(
        default_factory=lambda: {"pdf": 1.0},
        min_length=1,
        description="the attachments' file name extensions, with their weights",
    )
    spaces: Real = _share("attachments whose file name hides its extension behind a run of spaces")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data):
        if isinstance(data, dict):
            old = [k for k in ("harmless", "dangerous") if k in data]
            if old:
                raise FieldError(
                    old[0],
                    "attachments are drawn by file name now: give 'share' (messages with an attachment) "
                    "and 'extensions' ({ext: weight}; the seed's list decides, policies.attachments)",
                )
        return data

    @field_validator("extensions")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for ext, w in v.items():
            if not ext or "." in ext or ext != ext.strip():
                raise FieldError(ext, "an extension is written without its dot or spaces, e.g. pdf")
            if w < 0:
                raise FieldError(ext, "weights must be >= 0")
        if sum(v.values()) <= 0:
            raise ValueError("the weights must have a positive sum")
        return v


class Headers(Strict):
    """The header fields of a class's messages that Sieve scripts test (docs/sieve.md): shares of messages
    with each field, and how many distinct senders write them (a vacation reply goes once per sender)."""

    list: Real = _share("messages from a mailing list (List-Id, Precedence: list; To: the list)")
    bulk: Real = _share("messages with Precedence: bulk (newsletters, notifications)")
    auto_submitted: Real = _share("messages with Auto-Submitted: auto-generated")
    bcc: Real = _share("messages whose To/Cc do not name the recipient (Bcc, aliases)")
    senders: Count = Field(
        100_000, ge=1, le=MAX_MAILBOXES, description="distinct sender addresses the messages come from"
    )
    lists: Count = Field(100, ge=1, le=MAX_MAILBOXES, description="distinct lists list mail comes from")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(v: dict[str, float]) -> dict[str, float]:
    unknown = sorted(set(v) - set(WEEKDAYS))
    if unknown:
        raise ValueError(f"unknown day {unknown[0]!r} (expected {', '.join(WEEKDAYS)})")
    negative = [d for d, x in v.items() if x < 0]
    if negative:
        raise FieldError(negative[0], "weekday factors must be >= 0")
    return {d: v.get(d, 1.0) for d in WEEKDAYS}


Weekdays = Annotated[dict[str, Real], AfterValidator(_weekdays)]


def _hourly(v: list[float]) -> list[float]:
    """A diurnal curve: 24 factors >= 0 with a positive sum."""
    negative = [i for i, x in enumerate(v) if x < 0]
    if negative:
        raise FieldError(negative[0], "hourly factors must be >= 0")
    if sum(v) <= 0:
        raise ValueError("hourly factors must have a positive sum")
    return v


class Content(Strict):
    """What the scan and the stages look at in a class of messages, and their daily shape: the fields inbound
    mail classes and the users' submission classes share."""

    diurnal: list[Real] = Field(
        default_factory=lambda: [1.0] * 24,
        min_length=24,
        max_length=24,
        description="relative arrival rate per local hour 0..23 (normalised to mean 1)",
    )
    recipients: NumberDist = Field(
        default_factory=lambda: {"dist": "constant", "value": 1},
        validate_default=True,
        description="recipients per message (rounded up to a whole number >= 1)",
    )
    size: SizeDist = Field(default_factory=lambda: {"dist": "constant", "value": 0}, validate_default=True)
    spam_score: NumberDist = Field(
        default_factory=lambda: {"dist": "constant", "value": 0},
        validate_default=True,
        description="PureMessage spam probability in percent (clipped to 0..100)",
    )
    virus: Real = _share("messages carrying a virus (stage 4)")
    attachments: Attachments = Field(default_factory=Attachments)
    subdomain: Real = _share(
        "recipients at a subdomain with its own mail server (seed §4): the frontends route them to it by SMTP"
    )
    headers: Headers = Field(default_factory=Headers)

    @field_validator("diurnal")
    @classmethod
    def _positive_mean(cls, v: list[float]) -> list[float]:
        return _hourly(v)


class ClientProtocol(Strict):
    """How the users of one protocol (IMAP, POP3, webmail) use their mailboxes (docs/clients.md)."""

    share: Real = Field(ge=0, le=1, description="share of the logins that use this protocol")
    kerberos: Real = _share("logins with Kerberos (GSSAPI); the rest bind to LDAP with a password")
    session: DurationDist = Field(
        default_factory=lambda: {"dist": "constant", "value": 0},
        validate_default=True,
        description="how long a session stays open after its first fetch (0: it logs out at once)",
    )
    idle: bool = Field(
        False, description="an open session is told of new mail and fetches it at once (IMAP IDLE)"
    )
    delete: Real = _share("messages fetched in a session that the user deletes (expunged at its end)")


class Cleanup(Strict):
    """A user whose mailbox is at its quota when logging in cleans it up (Cyrus's quota warning): with
    probability ``share``, down to ``to`` times the quota."""

    share: Real = Field(ge=0, le=1)
    to: Real = Field(0.8, ge=0, le=1)


class Clients(Strict):
    """The users reading their mail: IMAP, POP3 and webmail sessions through the balancer to the store
    (docs/platform.md §2, §6, §B; docs/clients.md)."""

    logins: Rate = Field(gt=0, description="logins a day per reading mailbox (on a weekday factor of 1)")
    readers: Real = Field(
        1.0, ge=0, le=1, description="share of the active mailboxes whose users log in at all"
    )
    weekday: Weekdays = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS, 1.0),
        description="factor per day of the week (mon..sun)",
    )
    diurnal: list[Real] = Field(
        default_factory=lambda: [1.0] * 24,
        min_length=24,
        max_length=24,
        description="relative login rate per local hour 0..23 (normalised to mean 1)",
    )
    protocols: dict[str, ClientProtocol] = Field(min_length=1, description="e.g. imap, pop, webmail")
    client_latency: Duration = Field(0.0, ge=0, description="one-way latency between a client and the store")
    retry: Duration = Field(
        300.0, gt=0, description="a client whose login failed tries again after this, while its session lasts"
    )
    cleanup: Cleanup | None = Field(None, description="users cleaning up a full mailbox when they log in")
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="default: the horizon")
    enabled: bool = True

    @field_validator("diurnal")
    @classmethod
    def _positive_mean(cls, v: list[float]) -> list[float]:
        return _hourly(v)

    @model_validator(mode="after")
    def _shares(self):
        total = sum(p.share for p in self.protocols.values())
        if abs(total - 1) > 1e-6:
            raise FieldError("protocols", f"the protocols' shares sum to {total:g}, not 1")
        return self


class MailClass(Content):
    """One kind of inbound mail (ham or spam): its share of the volume, daily shape and attributes."""

    share: Real = Field(ge=0, le=1, description="share of the offered messages")
    sender: Sender = Field(default_factory=Sender)
    blocklisted: Real = _share("messages whose client IP is on the blocklist (stage 1)")
    bad_sender: Real = _share("messages whose sender address does not verify (stage 3)")
    guessed: Real = _share("recipients that are made-up addresses in the domain (dictionary attacks)")


class Inbound(Strict):
    """Mail offered to the platform from the Internet (docs/platform.md §B), through the load balancer."""

    volume: Rate = Field(gt=0, description="mean messages offered per day (on a weekday factor of 1)")
    weekday: Weekdays = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS, 1.0),
        description="factor per day of the week (mon..sun)",
    )
    transfer_rate: Size = Field(
        128 * 1024, gt=0, description="bytes per second a remote sender transfers during DATA"
    )
    classes: dict[str, MailClass] = Field(min_length=1, description="e.g. ham and spam")
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="default: the horizon")
    enabled: bool = True

    @field_validator("classes")
    @classmethod
    def _shares(cls, v: dict[str, MailClass]) -> dict[str, MailClass]:
        total = sum(c.share for c in v.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"class shares sum to {total:g}, not 1")
        return v


class SubmissionClass(Content):
    """One kind of mail sent from inside (internal, outbound, the relay): its volume, where its recipients
    are, and what the scan sees in it."""

    per_mailbox: Rate | None = Field(
        None, gt=0, description="messages a day per active mailbox (on a weekday factor of 1), e.g. 3/day"
    )
    volume: Rate | None = Field(None, gt=0, description="messages a day in all, instead of per_mailbox")
    relay: bool = Field(
        False,
        description="mail from downstream university systems through the relay (seed §5): no login, and "
        "bounces go back to the system",
    )
    local: Real = _share("share of recipients with a mailbox here (the rest are at remote domains)")
    unknown_local: Real = _share("local recipients whose address is wrong: refused at RCPT (stage 3)")
    unknown_remote: Real = _share("remote recipients the remote server does not know: 550, bounced")

    @model_validator(mode="after")
    def _one_volume(self):
        if (self.per_mailbox is None) == (self.volume is None):
            raise ValueError("give exactly one of 'per_mailbox' or 'volume'")
        return self


class Submission(Strict):
    """Mail the users submit over SMTP(S) with authentication, through the balancer to the frontends
    (docs/platform.md §2): scanned like all mail, delivered by LMTP or to remote domains."""

    weekday: Weekdays = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS, 1.0),
        description="factor per day of the week (mon..sun)",
    )
    kerberos: Real = _share(
        "sessions that log in with Kerberos (GSSAPI); the rest bind to LDAP with a password"
    )
    upload_rate: Size = Field(
        128 * 1024, gt=0, description="bytes per second a user's client sends during DATA"
    )
    client_latency: Duration = Field(
        0.0, ge=0, description="one-way latency between a user's client and the frontends"
    )
    client: Sender = Field(
        default_factory=lambda: Sender(retry="F,1d,30m", retry_interval_max=3600.0),
        description="what the user's mail client (and the user) do after a 4xx or a failed connection",
    )
    classes: dict[str, SubmissionClass] = Field(min_length=1, description="e.g. internal and outbound")
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="default: the horizon")
    enabled: bool = True


class ListPost(Content):
    """What a post to a list carries (its size, score, attachment, header fields) and its daily shape. A post
    goes to one list, the list's address: it has no recipient count or subdomain share of its own."""

    @model_validator(mode="after")
    def _one_recipient(self):
        if getattr(self.recipients, "dist", None) != "constant" or self.recipients.mean != 1:
            raise FieldError(
                "recipients", "a post goes to its list's address: its members are the recipients"
            )
        if self.subdomain:
            raise FieldError("subdomain", "a post goes to its list's address, not to a subdomain")
        return self


class Lists(Strict):
    """Mailman 2.1 on the list server (docs/platform.md §2, §B; docs/lists.md): the lists, their members and
    posts, and the Mailman settings that decide how copies go out and when a member is disabled."""

    count: Count = Field(300, ge=1, le=MAX_MAILBOXES, description="mailing lists on the list server")
    members: NumberDist = Field(
        default_factory=lambda: {"dist": "lognormal", "median": 50, "sigma": 1.0},
        validate_default=True,
        description="members per list (rounded up to a whole number >= 1)",
    )
    local: Real = _share(
        "members with an address here (drawn from the population: some deactivated or unknown, refused "
        "at RCPT); the rest are at remote domains"
    )
    unknown_remote: Real = _share("remote members their server does not know: 550, bounced to the list")
    posts: Rate = Field(gt=0, description="posts a day to all lists together (on a weekday factor of 1)")
    weekday: Weekdays = Field(
        default_factory=lambda: dict.fromkeys(WEEKDAYS, 1.0),
        description="factor per day of the week (mon..sun)",
    )
    post: ListPost = Field(default_factory=ListPost, description="the posts' contents and diurnal curve")
    kerberos: Real = _share("local posters whose client logs in with Kerberos; the rest bind with a password")
    footer: Size = Field(0, ge=0, description="bytes Mailman adds to each copy (msg_header, msg_footer)")
    max_recipients: Count = Field(
        500, ge=1, le=100_000, description="recipients per SMTP transaction to the frontends (SMTP_MAX_RCPTS)"
    )
    transfer_rate: Size = Field(
        10 * 1024**2, gt=0, description="bytes per second Mailman sends to the frontends during DATA"
    )
    retry: Sender = Field(
        default_factory=lambda: Sender(retry="F,5d,1h", retry_interval_max=3600.0),
        description="Mailman's retries of a transaction the frontends refused with a 4xx or that could not "
        "connect (DELIVERY_RETRY_WAIT, DELIVERY_RETRY_PERIOD)",
    )
    expand_retry: Duration = Field(
        300.0, gt=0, description="a post waits this long before its expansion is tried again (directory down)"
    )
    bounce_score_threshold: Real = Field(
        5.0, gt=0, description="a member whose bounce score reaches this is disabled"
    )
    bounce_info_stale_after: Duration = Field(
        7 * 86400.0, gt=0, description="a bounce this long after the last one starts the score again"
    )
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="default: the horizon")
    enabled: bool = True


class _Window(Strict):
    """From ``at`` for ``duration`` (or until ``until``)."""

    at: Duration = Field(ge=0)
    duration: Duration | None = Field(None, gt=0)
    until: Duration | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_end(self):
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of 'duration' or 'until'")
        if self.until is not None and self.until <= self.at:
            raise FieldError("until", "'until' must come after 'at'")
        return self

    @property
    def end(self) -> float:
        return self.until if self.until is not None else self.at + self.duration


class _Renewal(Strict):
    """Up for an MTBF draw, down for an MTTR draw, repeatedly."""

    mtbf: DurationDist = Field(description="time between failures (up time)")
    mttr: DurationDist = Field(description="time to repair (down time)")

    @field_validator("mtbf", "mttr")
    @classmethod
    def _never_zero(cls, v):
        if v.can_be_zero():
            raise ValueError(
                "can be 0: failures and repairs would follow each other at one instant forever; "
                "give a distribution of times > 0"
            )
        return v


class DomainOutage(_Window):
    """A remote domain's mail servers cannot be reached from ``at`` for ``duration`` (or until ``until``)."""

    domain: str = Field(
        min_length=1, description="a name from remote.names, or domainN for the N-th most popular"
    )


class Remote(Strict):
    """The mail servers outside that the frontends deliver to: a population of destination domains, each
    with one mail server (its MX), chosen by popularity, and how they answer."""

    domains: Count = Field(1, ge=1, le=MAX_MAILBOXES, description="destination domains")
    popularity: Real = Field(
        0.0,
        ge=0,
        description="Zipf exponent: the N-th most popular domain gets mail with weight N^-popularity",
    )
    names: list[str] = Field(
        default_factory=list, description="names of the most popular domains, in order (the rest: domainN)"
    )
    transfer_rate: Size = Field(
        1024 * 1024, gt=0, description="bytes per second the frontends send to a remote server during DATA"
    )
    greylisting: Real = _share("domains that greylist: a first try from an unknown client gets 451")
    greylist_delay: Duration = Field(300.0, ge=0, description="a retry after this long passes the greylist")
    auto_whitelist: Count = Field(
        5,
        ge=0,
        le=MAX_SERVERS,
        description="passes after which a greylisting domain whitelists the client (0: never)",
    )
    connect_timeout: Duration = Field(
        0.0, ge=0, description="what a try to a server that cannot be reached costs the delivery process"
    )
    failures: _Renewal | None = Field(None, description="random unreachable periods of every domain")
    outages: list[DomainOutage] = Field(default_factory=list, description="scheduled unreachable periods")

    @field_validator("names")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, name in enumerate(v):
            if name in seen:
                raise FieldError(i, f"{name!r} is named twice")
            seen.add(name)
        return v

    def index(self, name: str) -> int | None:
        """The popularity rank (0: the most popular) of domain ``name``, or None if there is none."""
        if name in self.names:
            return self.names.index(name)
        if name.startswith("domain") and name[6:].isdigit() and 1 <= int(name[6:]) <= self.domains:
            return int(name[6:]) - 1
        return None

    @model_validator(mode="after")
    def _known(self):
        if len(self.names) > self.domains:
            raise FieldError("names", f"{len(self.names)} names for {self.domains} domains")
        for i, o in enumerate(self.outages):
            if self.index(o.domain) is None:
                raise FieldError(
                    "outages",
                    f"outage {i + 1}: unknown domain {o.domain!r} (a name from remote.names, or domain1.."
                    f"domain{self.domains})",
                )
        return self


class Workload(Strict):
    scale: Real = Field(
        1.0,
        gt=0,
        description="growth factor multiplying every arrival rate (sources, inbound, submission, list posts, "
        "client logins); the mailboxes stay as they are (`mailtwin capacity --grow workload.scale`)",
    )
    sources: list[Source] = Field(default_factory=list)
    mailboxes: Mailboxes = Field(default_factory=Mailboxes)
    inbound: Inbound | None = Field(None, description="mail from the Internet, stage by stage")
    submission: Submission | None = Field(None, description="mail the users send: internal and outbound")
    lists: Lists | None = Field(None, description="Mailman's lists: posts in, copies to the members out")
    clients: Clients | None = Field(None, description="the users' IMAP, POP and webmail sessions")
    remote: Remote = Field(
        default_factory=Remote, description="the remote domains outbound mail, bounces and warnings go to"
    )

    def inbound_classes(self) -> list[str]:
        """The ledger's traffic classes of inbound mail (none when it is off)."""
        inbound = self.inbound
        return [f"inbound-{c}" for c in inbound.classes] if inbound is not None and inbound.enabled else []

    def submitted_classes(self) -> list[str]:
        """The ledger's traffic classes of the users' mail (none when submission is off)."""
        sub = self.submission
        return list(sub.classes) if sub is not None and sub.enabled else []

    def directions(self) -> dict[str, str]:
        """The direction of mail each of the workload's traffic classes belongs to: ``inbound`` (from the
        Internet), each submission class its own (the baseline: ``internal``, ``outbound``), ``relay``
        (classes of the relay's systems) and ``lists`` (Mailman's posts and copies)."""
        out = dict.fromkeys(self.inbound_classes(), "inbound")
        sub = self.submission
        if sub is not None and sub.enabled:
            out.update({name: "relay" if c.relay else name for name, c in sub.classes.items()})
        if self.lists is not None and self.lists.enabled:
            out.update(dict.fromkeys(("list_post", "list_copy"), "lists"))
        return out

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, v: list[Source]) -> list[Source]:
        seen: set[str] = set()
        for s in v:
            if s.name in seen:
                raise ValueError(f"two sources are named {s.name!r}")
            seen.add(s.name)
        return v


class _Scheduled(_Window):
    """A fault of ``target`` from ``at`` for ``duration`` (or until ``until``)."""

    target: str = Field(min_length=1, description="node name, glob (fe*), or class name (all its instances)")


class Outage(_Scheduled):
    """A scheduled outage: ``target`` is down from ``at`` for ``duration`` (or until ``until``)."""

    kind: Literal["outage"]
    cause: str = "scheduled outage"


class Degraded(_Scheduled):
    """``target`` works, but ``factor`` times slower (a RAID rebuild, a failing disk, a noisy neighbour):
    every service time of its stations (CPU, disks) is multiplied by ``factor`` from ``at`` to the end."""

    kind: Literal["degraded"]
    factor: Real = Field(gt=1, le=1000, description="how many times slower, e.g. 4")
    cause: str = "degraded"


class Loss(_Scheduled):
    """``target`` fails from ``at`` for ``duration`` and comes back empty: what it held is gone (a
    frontend's spool; the store's messages not yet on the replica, whose recipients end ``lost``)."""

    kind: Literal["loss"]
    cause: str = "data lost"


class RandomFailures(_Renewal):
    """Independent failures of each matching node: up for an MTBF draw, down for an MTTR draw, repeatedly."""

    kind: Literal["random"]
    target: str = Field(min_length=1)
    start: Duration = Field(0.0, ge=0)
    stop: Duration | None = Field(None, gt=0, description="no new failures after this time; default: never")
    cause: str = "random failure"


Fault = Annotated[Outage | Degraded | Loss | RandomFailures, Field(discriminator="kind")]


class Exim(Strict):
    """The frontends' Exim configuration that decides what happens to mail it cannot deliver at once.
    Defaults are Exim 4.63's own, except the retry line, whose last rule reaches 7 days (seed §3.2)."""

    retry: str = Field(
        "* * F,2h,15m; G,16h,1h,1.5; F,7d,6h",
        description="the retry line for deliveries from the spool (Exim syntax)",
    )
    queue_interval: Duration = Field(1800.0, gt=0, description="a queue runner starts this often (-q30m)")
    queue_run_max: Count = Field(5, ge=1, le=10_000, description="queue runners at once per frontend")
    retry_interval_max: Duration = Field(86400.0, gt=0)
    retry_data_expire: Duration = Field(7 * 86400.0, gt=0)
    delay_after_cutoff: bool = True
    delay_warning: str = Field("24h", description="24h, or a list such as 4h:8h:24h; 0 switches warnings off")
    bounce_return_size_limit: Size = Field(
        100 * 1024, ge=0, description="how much of the message a bounce returns"
    )
    notice_size: Size = Field(
        2048, ge=0, description="size of a bounce or warning without the returned message"
    )

    _check_retry = field_validator("retry")(lambda cls, v: _exim_syntax("parse_retry_line", v))
    _check_warning = field_validator("delay_warning")(lambda cls, v: _exim_syntax("parse_delay_warning", v))


class Quarantine(Strict):
    """The users' spam quarantine as they see it (seed §3.1 step 7; docs/inbound.md): a daily digest to
    each user with newly quarantined mail, from which some ask for messages to be delivered after all."""

    digest_at: Duration = Field(
        6 * 3600.0, ge=0, lt=86400, description="local time of day the digests go out, e.g. 6h for 06:00"
    )
    digest_size: Size = Field(3 * 1024, ge=0, description="a digest's size without its list")
    digest_entry: Size = Field(150, ge=0, description="bytes a digest adds per message it lists")
    retention: Duration = Field(14 * 86400.0, gt=0, description="how long quarantined mail is kept")
    release_users: Real = _share("users with quarantined mail who ask for some of it from a digest")
    release_share: Real = _share("of the messages their digest lists, the share such a user asks for")
    release_delay: DurationDist = Field(
        default_factory=lambda: {"dist": "exponential", "mean": "2h"},
        validate_default=True,
        description="from the digest to the user's request",
    )
    retry: Duration = Field(
        600.0, gt=0, description="a release that finds no frontend up is tried again this much later"
    )


class SpamPolicy(Strict):
    """What the frontends do with PureMessage's spam probability (seed §3.1 steps 7-8)."""

    quarantine_at: Count = Field(
        50, ge=0, le=101, description="quarantine (if the recipient enabled it) from"
    )
    tag_sure: Count = Field(
        70, ge=0, le=101, description="subject tag {SPAM!} from this probability (percent)"
    )
    tag_maybe: Count = Field(50, ge=0, le=101, description="subject tag {SPAM?} from this, below tag_sure")

    @model_validator(mode="after")
    def _ordered(self):
        if self.tag_maybe > self.tag_sure:
            raise FieldError("tag_maybe", "tag_maybe must not be above tag_sure")
        return self


# seed §3.1 step 5, footnote 4: the extensions held back (January 2010)
SEED_EXTENSIONS = (  # noqa: SIM905 - as the footnote reads
    "ade adpx app bas bat chm cmd com cpl crt exe fpx hlp hta inf ins isp js jse lnk mda mdb mde mdt mdw mdz "
    "msc msi msp mst ops pcd pif prf prg reg scf scr sct shb shs url vb vbe vbs wsc wsf wsh xsl"
).split()


class AttachmentPolicy(Strict):
    """What stage 5 holds back (seed §3.1 step 5 and its footnote 4)."""

    extensions: list[str] = Field(
        default_factory=lambda: list(SEED_EXTENSIONS),
        description="file name extensions held back (default: the seed's list of January 2010)",
    )
    spaces_max: Count = Field(
        5, ge=0, le=10_000, description="a file name with more spaces than this is held back"
    )


class Policies(Strict):
    balance: Balance = Field("round_robin", description="default load-balancing policy")
    exim: Exim = Field(default_factory=Exim)
    spam: SpamPolicy = Field(default_factory=SpamPolicy)
    attachments: AttachmentPolicy = Field(default_factory=AttachmentPolicy)
    quarantine: Quarantine = Field(default_factory=Quarantine)


class Quality(Strict):
    """Service-quality targets in the style of SPECmail2001's QoS requirements (docs/platform.md §B)."""

    reply_within: Duration = Field(5.0, gt=0, description="an SMTP reply should come within this")
    reply_share: Real = Field(0.95, ge=0, le=1, description="... for at least this share of replies")
    delivery_within: Duration = Field(
        60.0, gt=0, description="a message should be in the mailbox within this"
    )
    delivery_share: Real = Field(0.95, ge=0, le=1)
    error_rate_max: Real = Field(0.01, ge=0, le=1, description="temporary errors per SMTP transaction")
    command_within: Duration = Field(
        5.0, gt=0, description="an IMAP or POP command's reply should come within this"
    )
    command_share: Real = Field(0.95, ge=0, le=1, description="... for at least this share of commands")


class Outputs(Strict):
    sample_interval: Duration = Field(60.0, gt=0, description="probe interval for time series")
    statistics_include_drain: bool = Field(
        False,
        description="station statistics over [warm-up, horizon + drain] instead of [warm-up, horizon]",
    )
    quality: Quality = Field(default_factory=Quality)
    ledger: bool = True
    timeseries: bool = True
    report: bool = True


def _expectation(text: str) -> str:
    from twin.scenario.expectations import ExpectationError, parse_expectation

    try:
        parse_expectation(text)
    except ExpectationError as exc:
        raise ValueError(str(exc)) from None
    return text


class Scenario(Strict):
    meta: Meta
    clock: Clock
    hardware: Hardware = Field(default_factory=Hardware)
    platform: Platform = Field(default_factory=Platform)
    workload: Workload = Field(default_factory=Workload)
    policies: Policies = Field(default_factory=Policies)
    faults: list[Fault] = Field(default_factory=list, description="scheduled outages and random failures")
    expect: list[Annotated[str, AfterValidator(_expectation)]] = Field(
        default_factory=list,
        description="assertions over the results, e.g. 'recipients.lost == 0' (docs/scenarios.md); a run "
        "exits 1 when one fails",
    )
    outputs: Outputs = Field(default_factory=Outputs)

    @model_validator(mode="after")
    def _list_server(self):
        lists = self.workload.lists
        if lists is not None and lists.enabled and not self.platform.lists.count:
            raise FieldError(
                ("workload", "lists", "enabled"),
                "Mailman's lists need a list server: give platform.lists a member (or set enabled: false)",
            )
        return self

    @property
    def end(self) -> float:
        """Simulated seconds the run lasts: the horizon plus the drain."""
        return self.clock.horizon + self.clock.drain


# Node-name prefixes per class; a class with one instance is named by the prefix alone (e.g. `kdc`).
NAME_PREFIX = {
    "blocklist": "dnsbl",
    "load_balancer": "lb",
    "frontend": "fe",
    "scanner": "scan",
    "scan_central": "scan-central",
    "store": "store",
    "replica": "store-replica",
    "san": "san",
    "lists": "lists",
    "ldap": "ldap",
    "kdc": "kdc",
    "internal": "internal",
    "backup": "tsm",
    "esx": "esx",
}


def instances(platform: Platform) -> list[tuple[str, str, int, Member]]:
    """(class, node name, member index, member) for every instance, in a stable order."""
    out: list[tuple[str, str, int, Member]] = []
    for cls, spec in platform.classes().items():
        if not spec.enabled:
            continue
        total = spec.count
        i = 0
        for mi, member in enumerate(spec.members):
            for k in range(member.count):
                i += 1
                if member.names is not None:
                    name = member.names[k]
                else:
                    name = NAME_PREFIX[cls] if total == 1 else f"{NAME_PREFIX[cls]}{i}"
                out.append((cls, name, mi, member))
    return out


def match_nodes(sc: Scenario, target: str) -> list[str]:
    """Node names a fault target means: a class name (all its instances), a station or node name, or a
    glob over node names (``fe*``, ``esx[12]``)."""
    from fnmatch import fnmatchcase

    nodes = instances(sc.platform)
    by_class = [name for cls, name, _, _ in nodes if cls == target]
    if by_class:
        return by_class
    names = ["internet", *(name for _, name, _, _ in nodes), *sc.platform.stations]
    return [n for n in names if fnmatchcase(n, target)]
