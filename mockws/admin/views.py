"""JSON views of the hub's connections and rooms, shared by the API and the feed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hub.connection import Connection
from ..hub.hub import Hub

if TYPE_CHECKING:
    from ..server.app import MockServer

__all__ = ["connection_view", "counters_view", "room_views", "server_view"]


def connection_view(conn: Connection) -> dict[str, Any]:
    """Describe one connection; secrets in its query string are masked."""
    return {
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
        "upstream": conn.upstream,
    }


def room_views(hub: Hub) -> list[dict[str, Any]]:
    """Describe every room as its name and its members' ids, sorted by name."""
    return [
        {"name": name, "members": sorted(conn.id for conn in members)}
        for name, members in sorted(hub.rooms.items())
    ]


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
    """Describe the server: address and endpoints with their URLs and handlers."""
    return {
        "host": server.config.host,
        "port": server.port,
        "prefix": server.router.prefix,
        "endpoints": [
            {
                "pattern": endpoint.pattern,
                "url": server.url(endpoint.pattern),
                "handler": endpoint.config.handler,
                "summary": endpoint.summary,
                "record": endpoint.recorder is not None,
            }
            for endpoint in server.endpoints
        ],
    }
