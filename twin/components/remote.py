"""The world outside: the remote domains the frontends deliver to over SMTP (outbound mail, bounces and
delay warnings to outside senders), with their own behaviour (``workload.remote``, docs/outbound.md).

Each domain has one mail server (its MX). Domains are ranked by popularity: the N-th gets mail with weight
N^-``popularity`` (a Zipf law; ``domains.py``). A domain's server answers a frontend's delivery like this:
- it cannot be reached during its unreachable periods (random, from ``failures``; scheduled, from
  ``outages``): the frontend's connection fails, a host error under Exim's per-host retry record, after
  ``connect_timeout`` (what a connection to a server that does not answer costs the delivery process);
- a domain that greylists (``greylisting``, a share of domains) answers ``451 4.7.1`` to each recipient of
  a first try from a client it has not whitelisted, and accepts a retry of the same (client, message,
  recipient) after ``greylist_delay``; after ``auto_whitelist`` such passes it whitelists the client
  (postgrey's ``--delay`` 300 s and ``--auto-whitelist-clients`` 5);
- a recipient it does not know gets ``550 5.1.1`` (the frontend bounces it to the local sender);
- everyone else gets ``250``: the recipient ends ``delivered`` at node ``internet``.

The session costs the frontend's CPU for the message (as receiving one does), the SMTP dialogue's round
trips over the Internet and the transfer at ``transfer_rate``. A domain that becomes unreachable during the
session gives no reply: the delivery is cut, a host error.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import ClassVar

from twin.components.base import Component
from twin.components.smtp import DIALOGUE_ROUND_TRIPS
from twin.sim.ledger import STATE_CODE

DELIVERED = STATE_CODE["delivered"]
REPORTED_DOMAINS = 10  # the most popular domains get their own figures in kpis.json


class Internet(Component):
    """The world outside: remote MTAs that offer mail (the workload) and the remote domains' mail servers
    that receive what the frontends send out."""

    OUTAGE = (
        "no remote server can be reached: outbound mail, bounces and warnings wait on the frontends' spools"
    )
    protocol = "smtp"
    REASONS: ClassVar[dict[str, str]] = {"550": "550 5.1.1 unknown user (remote)"}

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        remote = ctx.scenario.workload.remote
        self.remote = remote
        self.domains = ctx.domains
        self.ledger = ctx.ledger
        self.rtt = 2 * ctx.scenario.platform.network.internet_latency
        self.rate = float(remote.transfer_rate)
        self.connect_timeout = remote.connect_timeout
        self._grey_first: dict[int, float] = {}  # ledger row -> its first greylisted try
        self._grey_passes: dict[tuple[int, int], int] = {}  # (client node code, domain) -> passes
        self.counts = dict.fromkeys(
            ("sessions", "refused_connections", "sessions_cut", "delivered", "greylisted", "unknown_user"), 0
        )
        self._by_domain = [
            dict.fromkeys(("sessions", "refused_connections", "delivered"), 0)
            for _ in range(min(REPORTED_DOMAINS, self.domains.count))
        ]

    def reach(self, d: int) -> Internet | None:
        """The connection a frontend makes to domain ``d``'s server: self, or None if it fails."""
        if not self.down_causes and self.domains.reachable(d, self.env.now):
            return self
        self.counts["refused_connections"] += 1
        if d < len(self._by_domain):
            self._by_domain[d]["refused_connections"] += 1
        return None

    def smtp(
        self, msg, rows: list[int], client: Component, d: int
    ) -> Generator[float, None, tuple[list[int], list[tuple[int, str]], bool] | None]:
        """Deliver ``msg`` from ``client`` (a frontend, connected) to its recipients ``rows`` at domain ``d``;
        returns (temporary rows, permanent [(row, reply code)], False) as the store's ``lmtp`` does, or None
        if the session was cut (the client failed, or the domain became unreachable)."""
        now = self.env.now
        counts = self.counts
        counts["sessions"] += 1
        if d < len(self._by_domain):
            self._by_domain[d]["sessions"] += 1
        temporary, permanent, accepted = self._rcpt_replies(msg, rows, client, d, now)
        end = now + self.rtt * (DIALOGUE_ROUND_TRIPS + len(rows))
        if accepted:
            end += msg.size / self.rate
        if client.station is not None:  # the frontend's Exim: as much CPU as receiving the message
            end = max(end, client.station.assign(client.work(msg.size), now))
        boot = client.boot
        yield end - now
        if client.boot != boot:
            return None
        if self.down_causes or not self.domains.reachable_throughout(d, now, end):
            counts["sessions_cut"] += 1
            return None
        if accepted:
            self.ledger.finish_rows(accepted, end, DELIVERED, self.stage, self.code)
            counts["delivered"] += len(accepted)
            if d < len(self._by_domain):
                self._by_domain[d]["delivered"] += len(accepted)
        return temporary, permanent, False

    def _rcpt_replies(self, msg, rows, client, d, now):
        """Each recipient's reply at RCPT: 550 for an unknown user, 451 from the greylist, else 250."""
        unknown = msg.unknown
        grey = self.domains.greylists[d] and self.remote.greylist_delay > 0
        if grey:
            key = (client.code, d)
            passes = self._grey_passes.get(key, 0)
            wl = self.remote.auto_whitelist
            grey = not wl or passes < wl
        temporary, permanent, accepted = [], [], []
        for r in rows:
            if unknown is not None and r in unknown:
                permanent.append((r, "550"))
                self.counts["unknown_user"] += 1
            elif grey:
                first = self._grey_first.get(r)
                if first is None:
                    self._grey_first[r] = now
                    temporary.append(r)
                    self.counts["greylisted"] += 1
                elif now - first < self.remote.greylist_delay:
                    temporary.append(r)
                    self.counts["greylisted"] += 1
                else:
                    del self._grey_first[r]
                    self._grey_passes[key] = self._grey_passes.get(key, 0) + 1
                    accepted.append(r)
            else:
                accepted.append(r)
        return temporary, permanent, accepted

    def results(self) -> dict[str, dict]:
        doms = self.domains
        top = {doms.name(d): c for d, c in enumerate(self._by_domain)}
        return {
            **super().results(),
            "remote": {
                **self.counts,
                "domains": doms.count,
                "greylisting_domains": int(sum(doms.greylists)),
                "domains_unreachable_at_some_time": len(doms.down),
                "by_domain": top,
            },
        }
