"""JSON views of the hub's connections and rooms, shared by the API and the feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import MockwsError
from ..hub.broker import Cluster
from ..hub.connection import Connection
from ..hub.hub import Hub
from ..hub.sio_connection import SioConnection

if TYPE_CHECKING:
    from ..server.app import MockServer

__all__ = [
    "ClusterViews",
    "cluster_views",
    "connection_view",
    "counters_view",
    "install_describer",
    "remote_view",
    "room_views",
    "server_view",
]


def connection_view(conn: Connection) -> dict[str, Any]:
    """Describe one connection; secrets in its query string are masked."""
    view = {
        "id": conn.id,
        "endpoint": conn.endpoint,
        "path": conn.display_path,
        "params": dict(conn.params),
        "user": conn.user_id,
        "rooms": sorted(conn.rooms),
        "connected_at": conn.connected_at,
        "messages_in": conn.messages_in,
        "messages_out": conn.messages_out,
        "dropped": conn.dropped,
        "subprotocol": conn.subprotocol,
        "remote": conn.request.remote,
        "faults": conn.faults.describe() if conn.faults is not None else None,
        "protocol": "websocket",
        "upstream": conn.upstream,
    }
    if isinstance(conn, SioConnection):
        view.update(protocol="socket.io", namespace=conn.namespace, transport=conn.transport)
    return view


def room_views(hub: Hub) -> list[dict[str, Any]]:
    """Describe every room as its name and its members' ids, sorted by name."""
    return [
        {"name": name, "members": sorted(conn.id for conn in members)}
        for name, members in sorted(hub.rooms.items())
    ]


# What a registry entry from another process lacks: its counters are not shared.
_REMOTE_DEFAULTS: dict[str, Any] = {
    "path": "",
    "params": {},
    "user": None,
    "rooms": [],
    "connected_at": None,
    "messages_in": None,
    "messages_out": None,
    "dropped": None,
    "subprotocol": None,
    "remote": None,
}


def remote_view(entry: dict[str, Any]) -> dict[str, Any]:
    """Give another process's registry entry the shape of :func:`connection_view`."""
    return {**_REMOTE_DEFAULTS, **entry}


_COUNTERS = ("messages_in", "messages_out", "dropped")


class ClusterViews:
    """Connections and rooms of every process on the server's broker.

    Attributes:
        connections: This process's connections, then the others'.
        rooms: Every room with the ids of its members on any process.
        error: Why the other processes could not be listed, or None.
    """

    def __init__(
        self, connections: list[dict[str, Any]], rooms: list[dict[str, Any]], error: str | None
    ) -> None:
        self.connections = connections
        self.rooms = rooms
        self.error = error


async def cluster_views(hub: Hub) -> ClusterViews:
    """Describe the connections and rooms of every process sharing ``hub``'s broker."""
    local = [connection_view(conn) for conn in hub.connections.values()]
    broker = hub.broker
    if not isinstance(broker, Cluster):
        return ClusterViews(local, room_views(hub), None)
    for view in local:
        view["worker"] = broker.node
    rooms = {name: {conn.id for conn in members} for name, members in hub.rooms.items()}
    try:
        remote = [remote_view(entry) for entry in await broker.remote_connections()]
    except MockwsError as exc:
        return ClusterViews(local, room_views(hub), str(exc))
    for entry in remote:
        for room in entry["rooms"]:
            rooms.setdefault(room, set()).add(entry["id"])
    listed = [{"name": name, "members": sorted(rooms[name])} for name in sorted(rooms)]
    return ClusterViews(local + remote, listed, None)


def install_describer(hub: Hub) -> None:
    """Have a cluster broker list each local connection with its full view."""
    broker = hub.broker
    if not isinstance(broker, Cluster):
        return

    def describe(conn_id: str) -> dict[str, Any]:
        conn = hub.get(conn_id)
        if conn is None:
            return {}
        view = connection_view(conn)
        for counter in _COUNTERS:
            # Listed once per change, not per message: another process shows them as unknown.
            view.pop(counter)
        return view

    broker.describe = describe


def counters_view(hub: Hub) -> dict[str, dict[str, Any]]:
    """Return the fields of each connection that change without an event."""
    return {
        conn.id: {
            "messages_in": conn.messages_in,
            "messages_out": conn.messages_out,
            "user": conn.user_id,
            "dropped": conn.dropped,
        }
        for conn in hub.connections.values()
    }


def server_view(server: MockServer) -> dict[str, Any]:
    """Describe the server: address, endpoints with their URLs and handlers, HTTP routes."""
    return {
        "host": server.config.host,
        "port": server.port,
        "prefix": server.router.prefix,
        "endpoints": [
            {
                "pattern": endpoint.pattern,
                "url": server.url(endpoint.pattern),
                "handler": endpoint.config.handler,
                "faults": endpoint.faults.describe(),
                "protocol": endpoint.config.protocol,
                "summary": endpoint.summary,
                "record": endpoint.recorder is not None,
            }
            for endpoint in server.endpoints
        ],
        "http": [
            {"route": route.route, "url": server.route_url(route), "answers": route.describe()}
            for route in server.http.routes
        ],
    }
