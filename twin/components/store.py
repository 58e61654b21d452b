"""The Cyrus IMAP primary: LMTP delivery into mailboxes (seed §1-3; PLATFORM.md §2 stages 10-11, §3).

One LMTP session per message from a frontend's spool costs CPU (``demand`` plus ``demand_per_kb``), a
write to the store's RAID array (``disk``) and ``metadata_ops`` I/O operations on the SAN (index, cache
and quota files). Each recipient gets its own reply, as in Cyrus's ``lmtpengine.c`` (checks at RCPT):
- no mailbox: ``550 5.1.1`` (permanent; the frontend bounces it);
- mailbox at or over its quota: ``452 4.2.2`` (temporary; the frontend's per-address retry rules apply),
  or ``552`` with ``over_quota_perm_failure``. A mailbox below its quota takes the message even if it
  ends up over (one message may push it over; the next is refused);
- otherwise ``250``: the message is in the mailbox and the mailbox grows by its size.

Sieve (stage 12) and replication to the replica hook in here later.
"""

from __future__ import annotations

from twin.components.server import Server
from twin.sim.ledger import STATE_CODE
from twin.workload.mailboxes import MISSING

DELIVERED = STATE_CODE["delivered"]


class Store(Server):
    def __init__(self, model, name, attrs, spec):
        super().__init__(model, name, attrs, spec)
        self.perm_over_quota = spec.over_quota_perm_failure
        self.metadata_ops = spec.metadata_ops
        self.replies = {"250": 0, "452": 0, "550": 0, "552": 0}

    def start(self) -> None:
        super().start()
        self.san = self.model.groups.get("san")

    def lmtp(self, msg, rows: list[int]):
        """Deliver ``msg`` to the recipients in ``rows``; a generator returning (temporary, permanent)
        lists of the rows refused, each with its reply code."""
        env = self.env
        now = env.now
        if self.station is not None:
            end = self.station.assign(self.work(msg.size), now)
            yield env.timeout(end - now)
            now = end
        # The message file on the RAID array and the metadata on the SAN are written side by side.
        done = now
        if self.disk is not None:
            done = self.disk.assign(self.disk_time(msg.size), now)
        if self.metadata_ops:
            node = self.san.connect() if self.san is not None else None
            if node is not None and node.station is not None:
                san_end = node.station.assign(node.service_time() * self.metadata_ops, now)
                if san_end > done:
                    done = san_end
        if done > now:
            yield env.timeout(done - now)
            now = done
        model = self.model
        boxes = model.mailboxes
        ledger = model.ledger
        col = ledger.cols["mailbox"]
        status, usage, quota = boxes.status_of, boxes.usage, boxes.quota_of
        temporary, permanent = [], []
        replies = self.replies
        for r in rows:
            box = int(col[r])
            if box >= 0:
                if status[box] == MISSING:
                    permanent.append((r, "550"))
                    replies["550"] += 1
                    continue
                if usage[box] >= quota[box]:
                    if self.perm_over_quota:
                        permanent.append((r, "552"))
                        replies["552"] += 1
                    else:
                        temporary.append(r)
                        replies["452"] += 1
                    continue
                usage[box] += msg.size
            replies["250"] += 1
            ledger.finish(r, 1, now, DELIVERED, self.stage, self.code)
        return temporary, permanent
