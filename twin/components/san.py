"""The iSCSI SAN (seed §1-2: the stores' mailbox metadata and archive, over redundant paths; docs/storage.md).

Its I/O is a plain station (``Server``: every metadata operation of a delivery, a replication and a user's
SELECT or EXPUNGE takes ``demand``); its outage acts through the stores (``topology.DEPENDENCIES``: LMTP
451, sessions fail). What it adds is its filling: each store that keeps its metadata on it (the stores
that depend on it) holds ``metadata_share`` bytes of index and cache per byte of mail (the mailboxes'
usage, ``Mailboxes.usage_total``). The archive the seed also puts there is not modelled.
"""

from __future__ import annotations

from twin.components.server import Server, filling


class San(Server):
    GAUGES = ("san_used_bytes",)

    def __init__(self, ctx, name, attrs, spec):
        super().__init__(ctx, name, attrs, spec)
        self.boxes = ctx.mailboxes
        self.share = spec.metadata_share if spec is not None else 0.0
        # the stores that keep their metadata here: the depends_on edges into this node
        graph = ctx.graph
        self.stores = sum(
            1
            for u, _, key in graph.in_edges(name, keys=True)
            if key == "depends_on" and graph.nodes[u]["kind"] in ("store", "replica")
        )

    def used(self, usage: float) -> float:
        return self.share * usage * self.stores

    def gauges(self) -> tuple[float, ...]:
        return (int(self.used(self.boxes.usage_total)),)

    def results(self) -> dict[str, dict]:
        out = super().results()
        if self.boxes.count and self.share > 0:
            start = self.used(float(self.boxes.usage_at_start.sum()))
            out["storage"] = filling(
                self.spec.capacity, start, self.used(self.boxes.usage_total), self.env.now
            )
        return out
