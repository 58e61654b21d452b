"""What the model hands every part it builds (components, services, workload sources): the kernel of
one run and the platform's shared state, nothing more. Parts keep what they need from it and find their
peers through the graph (``Component.wire``), not through the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import simpy

from twin.scenario.schema import Scenario
from twin.sim.ledger import Ledger
from twin.sim.streams import Streams


@dataclass(eq=False)
class Context:
    env: simpy.Environment
    streams: Streams  # random streams keyed by path: a part draws only from paths named after itself
    ledger: Ledger  # one row per offered recipient; parts write through its methods
    graph: nx.MultiDiGraph  # the topology: nodes, links, placement, dependencies
    scenario: Scenario  # the validated scenario (read at construction, never in the hot path)
    end: float  # simulated seconds the run lasts: horizon + drain
    mailboxes: Any  # the address population: directory entries and Cyrus mailboxes (components/mailboxes.py)
    domains: Any = None  # the remote domains outbound mail goes to (components/domains.py)
    filters: Any = None  # the mailboxes' Sieve scripts (components/filters.py); None: no mailbox has one
    lists: Any = None  # Mailman's lists and members (components/mailman.py); None: no lists
