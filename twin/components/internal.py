"""The university's own mail servers behind the frontends, as one node (``platform.internal``): the servers
of subdomains that have their own (seed §4: the central system is their MX and routes their mail there)
and the downstream systems that hand their outgoing mail to the relay (seed §5: their bounces come back
here).

The frontends deliver to it from their spools over SMTP inside the computing centre (docs/outbound.md): a
session costs the node's CPU if the scenario gives it a ``demand`` and the LAN's round trips, and every
recipient gets ``250`` (the twin does not model the servers' own mailboxes). While it is down, the
connection fails: a host error under the frontends' retry rules, so the mail waits on their spools.
"""

from __future__ import annotations

from collections.abc import Generator

from twin.components.server import Server
from twin.components.smtp import DIALOGUE_ROUND_TRIPS
from twin.sim.ledger import STATE_CODE

DELIVERED = STATE_CODE["delivered"]


class Internal(Server):
    OUTAGE = "mail for the subdomains and bounces to the relay's systems wait on the frontends' spools"
    protocol = "internal"

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.ledger = ctx.ledger
        self.rtt = 2 * ctx.scenario.platform.network.lan_latency
        self.received = 0  # recipients

    def receive(self, msg, rows: list[int], client) -> Generator[float, None, tuple | None]:
        """An SMTP session from ``client`` (a frontend) for the recipients ``rows`` of ``msg``: returns
        (temporary rows, permanent [(row, reply code)], False) as the store's ``lmtp`` does, or None if the
        session was cut (this node or the client failed before the replies)."""
        now = self.env.now
        end = now + self.rtt * (DIALOGUE_ROUND_TRIPS + len(rows))
        if self.station is not None:
            end = max(end, self.station.assign(self.work(msg.size), now))
        boot, client_boot = self.boot, client.boot
        if end > now:
            yield end - now
        if self.boot != boot or client.boot != client_boot:
            return None
        self.ledger.finish_rows(rows, end, DELIVERED, self.stage, self.code)
        self.received += len(rows)
        return [], [], False

    def results(self) -> dict[str, dict]:
        return {**super().results(), "internal": {"received": self.received}}
