"""One client of a Socket.IO endpoint, in one namespace, as handlers see it.

A :class:`SioConnection` is a :class:`~mockws.hub.connection.Connection`
whose messages are Socket.IO events: the hub registers it, puts it in rooms
and reaches it with broadcasts like any other. Everything it sends leaves
through :meth:`SioConnection._write_event`, its single outbound seam (an
``emit``, a ``send``, its share of a broadcast or of ``hub.emit``), into the
:class:`EventChannel` of its endpoint's Socket.IO server.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from ..observe.events import event_out
from ..observe.recording import event_from_text, event_text
from ..wire.close import CloseCode
from ..wire.codec import decode_text
from ..wire.frames import Opcode
from .connection import Connection, EndpointView

if TYPE_CHECKING:
    from .hub import Hub

__all__ = ["RECONNECT_CODES", "EventChannel", "SioConnection"]

# Closing with these ends the Engine.IO session ("transport close"), after which
# Socket.IO clients reconnect by themselves, as they would after a restart. Any
# other code disconnects the namespace ("io server disconnect"): no reconnect.
RECONNECT_CODES = frozenset(
    {CloseCode.GOING_AWAY, CloseCode.SERVICE_RESTART, CloseCode.TRY_AGAIN_LATER}
)


_IDLE, _WAITING = object(), object()


class EventChannel(Protocol):
    """What a Socket.IO connection sends through: its endpoint's Socket.IO server."""

    def queue_emit(self, sid: str, namespace: str, event: str, args: tuple[Any, ...]) -> bool:
        """Queue ``event`` with ``args`` for the client ``sid``, in order; False if gone."""
        ...

    async def flush(self) -> None:
        """Hand every queued event to Socket.IO, in order."""
        ...

    async def call(
        self, sid: str, namespace: str, event: str, args: tuple[Any, ...], timeout: float
    ) -> Any:
        """Emit ``event`` and return the client's acknowledgement."""
        ...

    async def disconnect(self, sid: str, namespace: str, *, transport: bool) -> None:
        """Disconnect the namespace, or with ``transport`` the whole Engine.IO session."""
        ...

    def drop(self, sid: str) -> None:
        """End the Engine.IO session of ``sid`` soon, from synchronous code."""
        ...

    def transport(self, sid: str) -> str | None:
        """The Engine.IO transport of ``sid`` now (``polling``, ``websocket``)."""
        ...


class SioConnection(Connection):
    """A Socket.IO client connected to one namespace of a ``protocol: socket.io`` endpoint.

    Besides what every connection has (``id``, ``params``, ``query``,
    ``state``, ``rooms``, ``user_id``, ``auth_data``, ``join``/``leave``), it
    has ``sid`` (Socket.IO's id of the client in this namespace),
    ``namespace``, ``transport``, and events: :meth:`emit`, :meth:`call`,
    and :meth:`broadcast` with an event name. ``send(data)`` emits the
    ``message`` event, as Socket.IO's own ``send`` does.
    """

    __slots__ = ("sid", "namespace", "_channel", "_ack")

    def __init__(  # noqa: PLR0913 - every field describes the client
        self,
        *,
        conn_id: str,
        hub: Hub,
        endpoint: EndpointView,
        request: web.Request,
        channel: EventChannel,
        sid: str,
        namespace: str,
        params: Mapping[str, str],
        query: Mapping[str, str],
    ) -> None:
        # Not Connection.__init__: there is no WebSocket, outbox or deflater of
        # our own; every method that would use them is overridden below.
        self.id = conn_id
        self.hub = hub
        self._endpoint = endpoint
        self.path = request.path
        self.params = dict(params)
        self.query = query
        self.request = request
        self.auth_data = None
        self._user_id = None
        self.state = {}
        self.subprotocol = None
        self.connected_at = time.time()
        self.messages_in = 0
        self.messages_out = 0
        self._events = hub.events
        self._closing = False
        self.close_code = None
        self.close_reason = ""
        # Connection's own per-connection features, off for Socket.IO connections
        # (Connection.__init__ is not run: it needs a WebSocket and an outbox).
        self._faults = None
        self._closed_handshake = None
        self._deflater = None
        self.outgoing_check = None
        self.tap = None
        self.upstream = None
        self.sid = sid
        self.namespace = namespace
        self._channel = channel
        self._ack: Any = _IDLE

    def __repr__(self) -> str:
        return f"<SioConnection {self.id} {self.path} {self.namespace} sid={self.sid}>"

    @property
    def closed(self) -> bool:
        """True once the client disconnected or is being disconnected."""
        return self._closing

    @property
    def dropped(self) -> int:
        """Always 0: Engine.IO queues what a Socket.IO client has not fetched yet."""
        return 0

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use now: ``polling`` or ``websocket``."""
        return self._channel.transport(self.sid)

    def _write_event(self, event: str, args: tuple[Any, ...], namespace: str | None) -> bool:
        """Queue ``event`` for this client: the single outbound seam.

        ``emit``, ``send`` and the hub's fan-out (``broadcast``, ``emit``)
        all come here. A ``namespace`` other than this connection's is not
        for it.
        """
        if self._closing or (namespace is not None and namespace != self.namespace):
            return False
        if self._faults is not None:
            # The faults hold, lose or pass the event on, as encoded text, to transmit().
            return self._faults.write(Opcode.TEXT, event_text(event, args).encode(), None)
        return self._queue_event(event, args)

    def transmit(self, opcode: int, payload: bytes, frame: bytes | None) -> bool:
        """Queue an event that this connection's faults let through."""
        if self._closing:
            return False
        event, args = event_from_text(payload)
        return self._queue_event(event, args)

    def _queue_event(self, event: str, args: tuple[Any, ...]) -> bool:
        if self._channel.queue_emit(self.sid, self.namespace, event, args):
            self.messages_out += 1
            if self.tap is not None:
                self.tap.frame("out", Opcode.TEXT, event_text(event, args))
            return True
        return False

    def _write(self, opcode: int, payload: bytes, frame: bytes | None, faults: bool = True) -> bool:
        """Take a plain message (a hub broadcast of data) as the ``message`` event."""
        data: Any = payload
        if opcode == Opcode.TEXT:
            data = decode_text(payload.decode("utf-8"), True)
        return self._write_event("message", (data,), None)

    def begin_event(self) -> None:
        """An event is being handled: :meth:`acknowledge` may answer it."""
        self._ack = _WAITING

    def acknowledge(self, value: Any) -> bool:
        """Make ``value`` the acknowledgement of the event being handled.

        Returns:
            False when no event is waiting for one (it was answered already,
            or its handling is over).
        """
        if self._ack is not _WAITING:
            return False
        self._ack = value
        return True

    def end_event(self) -> Any:
        """Return the acknowledgement given while the event was handled, or None."""
        value, self._ack = self._ack, _IDLE
        return None if value is _WAITING or value is _IDLE else value

    async def emit(self, event: str, *args: Any) -> bool:
        """Emit ``event`` with ``args`` to this client.

        Arguments are what ``json.dumps`` takes, or bytes (sent as binary
        attachments).

        Returns:
            True when the event was queued, False when the client is gone.
        """
        queued = self._write_event(event, args, None)
        if queued:
            await self._channel.flush()
            if self._events.wants_messages:
                self._events.publish(event_out(self.id, self.endpoint, event, args))
        return queued

    async def send(self, data: Any) -> bool:
        """Emit the ``message`` event with ``data``, as Socket.IO's ``send`` does."""
        return await self.emit("message", data)

    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> Any:
        """Emit ``event`` and wait for the client's acknowledgement; return its arguments.

        One argument comes back as itself, several as a tuple.

        Raises:
            TimeoutError: The client did not acknowledge within ``timeout`` seconds.
            ConnectionError: The connection is closed.
        """
        if self._closing:
            raise ConnectionError(f"{self.id} is closed")
        await self._channel.flush()
        self.messages_out += 1
        if self._events.wants_messages:
            self._events.publish(event_out(self.id, self.endpoint, event, args))
        return await self._channel.call(self.sid, self.namespace, event, args, timeout)

    async def broadcast(
        self,
        event: str,
        *args: Any,
        rooms: str | Iterable[str] | None = None,
        include_self: bool = False,
    ) -> int:
        """Emit ``event`` to this namespace's clients of this endpoint, or to ``rooms``.

        Without ``rooms`` it reaches every connection of this endpoint in this
        namespace; with rooms, every Socket.IO member of any listed room in
        this namespace, once each.

        Returns:
            How many connections the event was queued for.
        """
        reached = await self.hub.emit(
            event,
            *args,
            rooms=rooms,
            exclude=None if include_self else self,
            endpoint=None if rooms else self.endpoint,
            namespace=self.namespace,
        )
        await self._channel.flush()
        return reached

    async def ping(self, payload: bytes = b"") -> None:
        """Do nothing: Engine.IO pings its clients itself."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Disconnect the client; later calls do nothing.

        ``code`` and ``reason`` are recorded for ``on_close``, the inspector
        and the logs (Socket.IO has no close codes). 1001, 1012 and 1013 end
        the Engine.IO session, so that the client reconnects by itself; any
        other code disconnects this namespace ("io server disconnect"),
        after which Socket.IO clients do not reconnect.
        """
        if self._closing:
            return
        self._closing = True
        self.close_code, self.close_reason = code, reason
        await self._channel.flush()
        await self._channel.disconnect(self.sid, self.namespace, transport=code in RECONNECT_CODES)

    def fail(self, code: int, reason: str) -> bool:
        """End the client's Engine.IO session now with ``code``; False when already closing."""
        if self._closing:
            return False
        self.close_code, self.close_reason = code, reason
        self._closing = True
        self._channel.drop(self.sid)
        return True

    def abort(self) -> None:
        """End the client's Engine.IO session now."""
        if not self._closing:
            self._closing = True
            self._channel.drop(self.sid)
