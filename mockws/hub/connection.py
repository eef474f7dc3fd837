"""One accepted WebSocket connection, as handlers see it.

Everything a connection sends leaves through :meth:`Connection._write`, the
single outbound seam (a ``send``, its share of a broadcast), then the
connection's :class:`~mockws.wire.outbox.Outbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aiohttp import web

from ..observe.events import ConnectionClosed, ConnectionOpened, message_out
from ..wire.close import CloseCode, close_payload, encode_close_reason
from ..wire.codec import encode_message
from ..wire.deflate import Deflater
from ..wire.frames import Opcode, build_frame
from ..wire.outbox import BEHIND, Outbox
from ..wire.slowclient import too_slow_reason

if TYPE_CHECKING:
    from .faults import ConnectionFaults
    from .hub import Hub

__all__ = [
    "CLOSE_GRACE",
    "Connection",
    "EndpointView",
    "FrameTap",
    "connection_closed",
    "connection_opened",
]

log = logging.getLogger("mockws.connection")

# Default seconds a failed connection's socket is kept for the client to read
# its close frame (the endpoint's limits.close_grace).
CLOSE_GRACE = 5.0


class EndpointView(Protocol):
    """What a connection knows of the endpoint that accepted it."""

    @property
    def pattern(self) -> str:
        """The endpoint's URL pattern as configured."""
        ...

    def mask(self, path_qs: str) -> str:
        """Return ``path_qs`` with this endpoint's secret query values masked."""
        ...


class FrameTap(Protocol):
    """Sees every data frame a connection sends or receives (a recording)."""

    def frame(self, direction: Literal["in", "out"], opcode: int, payload: bytes | str) -> None:
        """Take one frame: ``in`` from the client, ``out`` to it."""
        ...

    def closed(self, direction: Literal["in", "out"], code: int | None, reason: str) -> None:
        """The connection ended (``in``: the client closed it); no frames follow."""
        ...


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
        "_user_id",
        "state",
        "subprotocol",
        "connected_at",
        "messages_in",
        "messages_out",
        "_socket",
        "_outbox",
        "_events",
        "_deflater",
        "_faults",
        "_closing",
        "_closed_handshake",
        "close_code",
        "close_reason",
        "outgoing_check",
        "tap",
        "upstream",
    )

    def __init__(
        self,
        *,
        conn_id: str,
        hub: Hub,
        endpoint: EndpointView,
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
        self._user_id: str | None = None
        self.state: dict[str, Any] = {}
        self.subprotocol: str | None = socket.ws_protocol
        self.connected_at = time.time()
        self.messages_in = 0
        self.messages_out = 0
        self._socket = socket
        self._outbox = outbox
        self._events = hub.events
        self._deflater = deflater
        self._faults: ConnectionFaults | None = None
        self._closing = False
        self._closed_handshake: asyncio.Event | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        # Sees every message queued for this client (an AsyncAPI endpoint checks them).
        self.outgoing_check: Callable[[Connection, int, bytes], None] | None = None
        self.tap: FrameTap | None = None
        self.upstream: str | None = None

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
    def user_id(self) -> str | None:
        """The user this connection belongs to (``send_to_user`` finds it by this); settable."""
        return self._user_id

    @user_id.setter
    def user_id(self, value: str | None) -> None:
        previous, self._user_id = self._user_id, value
        if previous != value:
            self.hub.user_changed(self, previous)

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms this connection is a member of."""
        return self.hub.rooms_of(self)

    @property
    def closed(self) -> bool:
        """True once the connection is closing or closed; sends are then ignored."""
        return self._closing or self._socket.closed

    @property
    def socket(self) -> web.WebSocketResponse:
        """The aiohttp socket under this connection, for the server's own use.

        Writing to it directly skips the outbox, its ordering and its limits.
        """
        return self._socket

    @property
    def faults(self) -> ConnectionFaults | None:
        """This connection's network faults (see mockws.hub.faults), or None."""
        return self._faults

    def set_faults(self, faults: ConnectionFaults | None) -> None:
        """Put ``faults`` between this connection's outbound seam and its outbox; None removes."""
        self._faults = faults

    @property
    def dropped(self) -> int:
        """Messages dropped by a drop policy, or discarded unsent when the client was failed."""
        return self._outbox.dropped

    @property
    def buffered(self) -> int:
        """Bytes queued for this client that it has not read yet (as far as the server knows)."""
        return self._outbox.buffered

    async def send(self, data: Any) -> bool:
        """Send one message to this client.

        ``dict``, ``list``, numbers, booleans and ``None`` go as JSON text,
        ``str`` as text and ``bytes`` as one binary message. With the
        endpoint's default ``on_backpressure: wait``, a client more than
        ``send_high_water`` bytes behind makes this wait until it has read
        enough (see :meth:`drain`).

        Returns:
            True when the message was queued; False when the connection is
            closed, was closed for being too slow, or a drop policy dropped it.
        """
        opcode, payload = encode_message(data)
        queued = self._write(opcode, payload, None)
        if queued and self._events.wants_messages:
            self._events.publish(message_out(self.id, self.endpoint, opcode, payload))
        if queued == BEHIND:
            return await self.drain()
        return bool(queued)

    async def drain(self) -> bool:
        """Wait until this client is under ``send_high_water``, flushing what is queued.

        It yields to the event loop at least once. A client still over the
        mark ``slow_client_timeout`` seconds after it fell behind is closed
        with 1008 "Client too slow: behind for ...".

        Returns:
            True when the client is under the mark; False when the
            connection is closed (or was closed for being too slow).
        """
        outbox = self._outbox
        if await outbox.drained():
            return not self._closing
        if not self._closing and not self._socket.closed:
            self.fail(CloseCode.POLICY_VIOLATION, too_slow_reason(outbox))
        return False

    def _write(self, opcode: int, payload: bytes, frame: bytes | None, faults: bool = True) -> int:
        """Queue an encoded message, reusing ``frame`` when it fits this connection.

        The single outbound seam: ``send`` and the hub's fan-out both come
        here. A shared ``frame`` is uncompressed; a connection that
        compresses messages of this size builds its own. A connection with
        faults hands the message to them, which may lose it or hold it back
        before they :meth:`transmit` it.

        Returns:
            The outbox's answer: falsy when the message was not queued,
            :data:`~mockws.wire.outbox.BEHIND` when it was but the client is
            over its mark, so the sender should :meth:`drain`.
        """
        if self._closing:
            return 0
        if self._faults is not None and faults:
            return int(self._faults.write(opcode, payload, frame))
        deflater = self._deflater
        if deflater is None or len(payload) < deflater.threshold:
            deflater = None
            frame = frame if frame is not None else build_frame(opcode, payload)
        else:
            frame = deflater.frame(opcode, payload)
        queued = self._outbox.queue(frame)
        if queued:
            self.messages_out += 1
            journal = self.hub.journal
            if journal is not None:
                journal.sent(self, opcode, payload)
            if self.outgoing_check is not None:
                self.outgoing_check(self, opcode, payload)
            if self.tap is not None:
                self.tap.frame("out", opcode, payload)
            return queued
        if deflater is not None:
            deflater.forget()
        return 0

    def transmit(self, opcode: int, payload: bytes, frame: bytes | None) -> bool:
        """Queue an encoded message past this connection's faults (they call it).

        Returns:
            False when the connection is closing or the outbox refused it.
        """
        return bool(self._write(opcode, payload, frame, False))

    def _write_event(self, event: str, args: tuple[Any, ...], namespace: str | None) -> bool:
        """Queue a Socket.IO event: a WebSocket connection has none, so it is not reached."""
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
        self.hub.join(self, room)

    def leave(self, room: str) -> None:
        """Remove this connection from ``room``; leaving twice changes nothing."""
        self.hub.leave(self, room)

    async def ping(self, payload: bytes = b"") -> None:
        """Send a PING frame; the client's PONG needs no handling."""
        if not self.closed:
            await self._socket.ping(payload)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason``; later calls do nothing."""
        if self._closing:
            return
        faults = self._faults
        # Held-back messages leave before the close frame (and before closing refuses them).
        stalled = faults is not None and not faults.drain()
        self._closing = True
        self.close_code = code
        self.close_reason = reason
        if stalled:
            # A stalled connection writes nothing, not even a close frame.
            self.abort()
            return
        self._closed_handshake = done = asyncio.Event()
        try:
            self._outbox.flush()
            await self._socket.close(code=code, message=encode_close_reason(reason))
        finally:
            done.set()

    async def wait_closed(self, timeout: float) -> None:
        """Wait until a :meth:`close` in progress has its answer (at most ``timeout`` s).

        aiohttp's ``close`` waits for the client's close frame, but the
        session's read loop sees the socket closing at once; returning from
        the session then would close TCP before the client's frame arrives,
        and a browser would report an unclean close (``wasClean == false``).
        Returns at once when no ``close`` is in progress.
        """
        done = self._closed_handshake
        if done is not None and not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout)

    def fail(self, code: int, reason: str) -> bool:
        """Close now with ``code``, without waiting for the client's close frame.

        RFC 6455 section 7.1.7: an endpoint that must fail the connection
        sends a close frame if it can and closes TCP without waiting for the
        peer's. Used for clients that stop reading and clients that break a
        limit. The close frame goes out after whatever is already queued; the
        socket closes once that is sent, or is dropped the endpoint's
        ``limits.close_grace`` seconds later. Messages still held by the
        server and not started are discarded (counted in ``dropped``).
        ``on_close`` then sees ``code`` and ``reason``.

        Returns:
            False when the connection was already closing.
        """
        if self._closing:
            return False
        self._closing = True
        self.close_code, self.close_reason = code, reason
        log.warning("%s: closing with %d: %s", self.id, code, reason)
        self._outbox.fail(build_frame(Opcode.CLOSE, close_payload(code, reason)))
        return True

    def abort(self) -> None:
        """Drop the TCP connection now, discarding what the client has not read."""
        self._closing = True
        self._outbox.abort()

    def record_close(self, code: int, reason: str = "") -> None:
        """Record how the socket ended, unless a close code was chosen before."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason

    def finish(self, code: int, reason: str = "") -> None:
        """Record how the socket ended (see :meth:`record_close`); no more sends from now on."""
        self.record_close(code, reason)
        self._closing = True
        if self._faults is not None:
            self._faults.stop()


def connection_opened(conn: Connection) -> ConnectionOpened:
    """Describe ``conn`` as it has just been registered; secrets in its query are masked."""
    return ConnectionOpened(
        conn_id=conn.id,
        endpoint=conn.endpoint,
        path=conn.display_path,
        remote=conn.request.remote,
        user=conn.user_id,
        subprotocol=conn.subprotocol,
        upstream=conn.upstream,
    )


def connection_closed(conn: Connection) -> ConnectionClosed:
    """Describe ``conn`` once it has closed."""
    return ConnectionClosed(
        conn_id=conn.id,
        endpoint=conn.endpoint,
        code=conn.close_code,
        reason=conn.close_reason,
        messages_in=conn.messages_in,
        messages_out=conn.messages_out,
    )
