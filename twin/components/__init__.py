"""One component class per kind of topology node."""

from twin.components.balancer import LoadBalancer
from twin.components.base import Component, Group
from twin.components.frontend import Frontend
from twin.components.scanner import Scanner
from twin.components.server import Internet, QueueingStation, Server
from twin.components.station import Station
from twin.components.store import Store

# Node kind -> component class. Mail classes share the Server machinery until their own behaviour lands.
REGISTRY: dict[str, type[Component]] = {
    "internet": Internet,
    "station": QueueingStation,
    "frontend": Frontend,
    "scanner": Scanner,
    "store": Store,
    "load_balancer": LoadBalancer,
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
