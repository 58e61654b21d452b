"""A PureMessage scanner of the scan cluster (seed §1, §3.1 steps 4-6; docs/platform.md §A).

The frontends' milter reaches a scanner through the load balancer. A scan costs CPU (``demand`` plus
``demand_per_kb`` per KB, on the scanner's own cores); at most ``concurrency`` milter connections are
taken at once, more are refused. Scanners get their configuration and data from the central server; the
seed says they go on working for 2 hours without it (``grace``). After that they no longer give valid
answers, which the frontends turn into a temporary error (4xx), until the central server is back.

The verdict itself (virus, spam probability, attachment) is drawn with the message by the workload: the
scanner is where it becomes known and what it costs, not a classifier.
"""

from __future__ import annotations

from twin.components.server import Server


class Scanner(Server):
    OUTAGE = "milter calls to it fail (4xx 'scan unreachable') until the balancer marks it dead"

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.concurrency = spec.concurrency
        self.grace = spec.grace
        self.invalid_answers = 0  # verdicts given after the grace: the frontends answered 4xx
        self.central = None

    def start(self) -> None:
        self.central = self.needs.get("scan_central")

    def valid(self) -> bool:
        """Whether an answer given now is valid: the central server is reachable, or was lost less than
        ``grace`` ago."""
        central = self.central
        if central is None or central.down_since is None:
            return True
        return self.env.now - central.down_since < self.grace

    def accepts(self, now: float) -> bool:
        """Whether a milter connection made at ``now`` is taken (fewer than ``concurrency`` scans)."""
        return self.concurrency is None or self.station is None or self.station.admits(self.concurrency, now)

    def results(self) -> dict[str, dict]:
        return {**super().results(), "scanners": {"invalid_answers": self.invalid_answers}}


def perlmx_header(score: int) -> str:
    """The ``X-PerlMx-Spam`` header PureMessage writes for a spam probability in percent
    (docs/platform.md §A): one ``X`` per 10 %, one ``I`` per further 1 %."""
    score = max(0, min(100, int(score)))
    return f"Gauge={'X' * (score // 10)}{'I' * (score % 10)}, Probability={score}%"


def subject_tag(score: int, policy) -> str:
    """The subject tag of stage 8 under ``policies.spam`` (seed §3.1: ``{SPAM!}`` from 70 %, ``{SPAM?}``
    from 50 %)."""
    return "{SPAM!}" if score >= policy.tag_sure else "{SPAM?}" if score >= policy.tag_maybe else ""
