"""One component class per kind of topology node (``REGISTRY``); classes without their own protocol are
plain ``Server``s. Adding a kind: docs/architecture.md, "Adding a component"."""

from twin.components.backup import Backup
from twin.components.balancer import LoadBalancer
from twin.components.base import Component, Group
from twin.components.frontend import Frontend
from twin.components.internal import Internal
from twin.components.mailman import ListServer
from twin.components.remote import Internet
from twin.components.replica import Primary, Replica
from twin.components.san import San
from twin.components.scanner import Scanner
from twin.components.server import QueueingStation, Server
from twin.components.station import Station

# Node kind -> component class.
REGISTRY: dict[str, type[Component]] = {
    "internet": Internet,
    "station": QueueingStation,
    "frontend": Frontend,
    "internal": Internal,
    "lists": ListServer,
    "scanner": Scanner,
    "store": Primary,
    "replica": Replica,
    "load_balancer": LoadBalancer,
    "backup": Backup,
    "san": San,
}
DEFAULT = Server

__all__ = [
    "DEFAULT",
    "REGISTRY",
    "Component",
    "Frontend",
    "Group",
    "Internet",
    "QueueingStation",
    "Server",
    "Station",
]
