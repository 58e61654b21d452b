"""The path of one message through the platform: pick an instance, be served, be routed, until a
terminal state. One SimPy process per message; recipients of a message travel together.
"""

from __future__ import annotations

from twin.sim.ledger import STATE_CODE

DELIVERED = STATE_CODE["delivered"]


def journey(model, r0: int, n: int, group):
    env = model.env
    ledger = model.ledger
    accepted = False
    while True:
        comp = group.pick()
        ledger.locate(r0, n, comp.code, comp.stage)
        station = comp.station
        if station is not None:
            yield from station.serve(comp.service_time())
        hop = comp.next_hop()
        if hop.__class__ is int:
            if hop == DELIVERED:
                ledger.attempt(r0, n)
                if not accepted:
                    ledger.accept(r0, n, env.now)
            ledger.finish(r0, n, env.now, hop, comp.stage, comp.code)
            return
        if not accepted:
            # The first component took responsibility for the message by passing it on.
            ledger.accept(r0, n, env.now)
            accepted = True
        group = hop
