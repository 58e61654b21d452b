"""The path of one message through the platform: pick an instance, be served, be routed, until a
terminal state. One SimPy process per message; recipients of a message travel together.

Every hop happens inside the remote sender's SMTP transaction: if any hop finds no instance up, the
transaction fails with a temporary error and the remote sender decides (retry on its schedule, or give
up: ``expired_at_sender``). ``attempts`` counts the sender's tries.
"""

from __future__ import annotations

import math

from twin.sim.ledger import STATE_CODE

DELIVERED = STATE_CODE["delivered"]
EXPIRED_AT_SENDER = STATE_CODE["expired_at_sender"]
AT_SENDER = 0  # node code of "(sender)"


def journey(model, r0: int, n: int, entry, senders):
    env = model.env
    ledger = model.ledger
    received = env.now
    key = ("message", r0)
    retrying = None
    while True:
        ledger.attempt(r0, n)
        refused = yield from _through(model, r0, n, entry)
        if refused is None:
            if retrying:
                senders.db.succeeded(key)
            return
        stage = ledger.stages.code(refused.name)
        if retrying is None:
            retrying = senders.will_retry()
        if not retrying or senders.db.failed(key, env.now, received):
            senders.db.succeeded(key)  # the remote queue drops the message; forget its record
            ledger.finish(r0, n, env.now, EXPIRED_AT_SENDER, stage, AT_SENDER)
            return
        ledger.locate(r0, n, AT_SENDER, stage)
        yield env.timeout(senders.db.records[key].next_try - env.now)


def _through(model, r0: int, n: int, group):
    """One pass; returns None when the message reached a terminal state, else the group that refused."""
    env = model.env
    ledger = model.ledger
    accepted = False
    while True:
        comp = group.pick()
        if comp is None:
            if accepted:
                ledger.accept(r0, n, math.nan)  # the transaction failed: nothing was accepted after all
            return group
        ledger.locate(r0, n, comp.code, comp.stage)
        station = comp.station
        if station is not None:
            yield from station.serve(comp.service_time())
        hop = comp.next_hop()
        if hop.__class__ is int:
            if hop == DELIVERED and not accepted:
                ledger.accept(r0, n, env.now)
            ledger.finish(r0, n, env.now, hop, comp.stage, comp.code)
            return None
        if not accepted:
            # The first component took responsibility for the message by passing it on.
            ledger.accept(r0, n, env.now)
            accepted = True
        group = hop
