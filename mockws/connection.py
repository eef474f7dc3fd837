"""One accepted WebSocket connection, as handlers see it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .codec import encode_message
from .events import RoomJoined, RoomLeft, message_out
from .frames import build_frame, encode_close_reason
from .outbox import Outbox

if TYPE_CHECKING:
    from .deflate import Deflater
    from .endpoint import Endpoint
    from .hub import Hub

__all__ = ["Connection"]

_NO_ROOMS: frozenset[str] = frozenset()


class Connection:
    """A client connected to one endpoint.

    Handlers receive it in every hook. Attributes that describe the client
    (``id``, ``path``, ``params``, ``query``, ``request``) are fixed; ``state``,
    ``user_id`` and ``auth_data`` are the handler's to use, and survive a
    hot reload of the handler module.
    """

    # No per-connection __dict__: idle memory (handlers keep their data in ``state``).
    __slots__ = (
        "id",
        "hub",
        "_endpoint",
        "path",
        "params",
        "query",
        "request",
        "auth_data",
        "user_id",
        "state",
        "subprotocol",
        "connected_at",
        "messages_in",
        "messages_out",
        "_socket",
        "_outbox",
        "_events",
        "_deflater",
        "_rooms",
        "_closing",
        "close_code",
        "close_reason",
    )

    def __init__(
        self,
        *,
        conn_id: str,
        hub: Hub,
        endpoint: Endpoint,
        request: web.Request,
        socket: web.WebSocketResponse,
        outbox: Outbox,
        params: Mapping[str, str],
        query: Mapping[str, str],
        deflater: Deflater | None = None,
    ) -> None:
        self.id = conn_id
        self.hub = hub
        self._endpoint = endpoint
        self.path = request.path
        self.params: Mapping[str, str] = params if type(params) is dict else dict(params)
        self.query = query
        self.request = request
        self.auth_data: Any = None
        self.user_id: str | None = None
        self.state: dict[str, Any] = {}
        self.subprotocol: str | None = socket.ws_protocol
        self.connected_at = time.time()
        self.messages_in = 0
        self.messages_out = 0
        self._socket = socket
        self._outbox = outbox
        self._events = hub.events
        self._deflater = deflater
        # A shared empty frozenset until the first join (see Hub._join): idle memory.
        self._rooms: set[str] | frozenset[str] = _NO_ROOMS
        self._closing = False
        self.close_code: int | None = None
        self.close_reason = ""

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.path}>"

    @property
    def endpoint(self) -> str:
        """The pattern of the endpoint this connection was accepted on."""
        return self._endpoint.pattern

    @property
    def display_path(self) -> str:
        """The request path and query with every secret value masked; safe to log or show."""
        return self._endpoint.mask(self.request.path_qs)

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this connection is a member of."""
        return frozenset(self._rooms)

    @property
    def closed(self) -> bool:
        """True once the connection is closing or closed; sends are then ignored."""
        return self._closing or self._socket.closed

    @property
    def dropped(self) -> int:
        """Messages not queued because the client was not reading fast enough."""
        return self._outbox.dropped

    async def send(self, data: Any) -> bool:
        """Send one message to this client.

        ``dict``, ``list``, numbers, booleans and ``None`` go as JSON text,
        ``str`` as text and ``bytes`` as one binary message.

        Returns:
            True when the message was queued; False when the connection is
            closed or the client is too far behind to take more.
        """
        opcode, payload = encode_message(data)
        queued = self._write(opcode, payload, None)
        if queued and self._events.wants_messages:
            self._events.publish(message_out(self.id, self.endpoint, opcode, payload))
        return queued

    def _write(self, opcode: int, payload: bytes, frame: bytes | None) -> bool:
        """Queue an encoded message, reusing ``frame`` when it fits this connection.

        A shared ``frame`` is uncompressed; a connection that compresses
        messages of this size builds its own.
        """
        if self._closing:
            return False
        deflater = self._deflater
        if deflater is None or len(payload) < deflater.threshold:
            deflater = None
            frame = frame if frame is not None else build_frame(opcode, payload)
        else:
            frame = deflater.frame(opcode, payload)
        if self._outbox.queue(frame):
            self.messages_out += 1
            return True
        if deflater is not None:
            deflater.forget()
        return False

    async def broadcast(
        self, data: Any, rooms: str | Iterable[str] | None = None, include_self: bool = False
    ) -> int:
        """Send ``data`` to this endpoint's connections, or to ``rooms``.

        Without ``rooms`` it reaches every connection of this connection's
        endpoint; with rooms, every member of any listed room, once each.

        Returns:
            How many connections the message was queued for.
        """
        return await self.hub.broadcast(
            data,
            rooms=rooms,
            exclude=None if include_self else self,
            endpoint=None if rooms else self.endpoint,
        )

    def join(self, room: str) -> None:
        """Add this connection to ``room``; joining twice changes nothing."""
        new = room not in self._rooms
        self.hub._join(self, room)
        if new and self._events.active:
            self._events.publish(RoomJoined(conn_id=self.id, room=room))

    def leave(self, room: str) -> None:
        """Remove this connection from ``room``; leaving twice changes nothing."""
        was_member = room in self._rooms
        self.hub._leave(self, room)
        if was_member and self._events.active:
            self._events.publish(RoomLeft(conn_id=self.id, room=room))

    async def ping(self, payload: bytes = b"") -> None:
        """Send a PING frame; the client's PONG needs no handling."""
        if not self.closed:
            await self._socket.ping(payload)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason``; later calls do nothing."""
        if self._closing:
            return
        self._closing = True
        self.close_code = code
        self.close_reason = reason
        self._outbox.flush()
        await self._socket.close(code=code, message=encode_close_reason(reason))
