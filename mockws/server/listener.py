"""The listening socket, and the guard in front of each accepted connection.

aiohttp answers an over-long header line with 400 and has no limit on the
whole header block, so every connection's bytes pass through a
:class:`ConnectionGuard` first: once the request line and headers pass
``max_header_size`` it answers 431 itself and closes the connection, before
aiohttp sees the rest. aiohttp's own line limits are raised to the same size
so that they never answer first.

The handshake timeout is aiohttp's keep-alive timeout, which it arms when a
connection is accepted and which closes a connection that has not completed a
request by then (:func:`~mockws.server.aiohttp_compat.handler_options`).

A refused upgrade request closes its connection (:func:`close_refused_upgrades`):
a proxy in front may believe the upgrade happened and tunnel whatever the
client sends next, which must not then be served as a fresh HTTP request.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import ssl
from typing import Any, cast

from aiohttp import web

from ..config.limits import ServerLimits
from ..wire.inbound import FrameScanner
from ..wire.outbox import Outbox
from .aiohttp_compat import protocol_factory

__all__ = [
    "ConnectionGuard",
    "close_refused_upgrades",
    "frame_scanner",
    "listen",
    "notify_writable",
    "raise_open_files_limit",
]

# Seconds between two warnings that the process is out of file descriptors.
ACCEPT_WARNING_INTERVAL = 60.0

log = logging.getLogger("mockws.server")

_MEASURING, _PASSING, _REFUSED = 0, 1, 2
_HEADER_ENDS = (b"\r\n\r\n", b"\n\n")
_TOO_LARGE_BODY = b"Request header fields too large.\n"
TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: " + str(len(_TOO_LARGE_BODY)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + _TOO_LARGE_BODY
)


async def close_refused_upgrades(request: web.Request, response: web.StreamResponse) -> None:
    """Close the connection after any answer but 101 to a request that asks to upgrade.

    An ``on_response_prepare`` signal, not a middleware: a middleware's frame
    would stay alive for the whole life of every WebSocket (idle memory).
    """
    if "Upgrade" in request.headers and not isinstance(response, web.WebSocketResponse):
        response.force_close()
        # The headers were prepared before this signal: say so to the client too.
        response.headers["Connection"] = "close"


class ConnectionGuard(asyncio.Protocol):
    """Forwards one connection's bytes to aiohttp, enforcing the client-side limits.

    The first request's header block is measured: past ``max_header_size``
    the guard answers 431 itself. From the end of that block on, a
    :class:`~mockws.wire.inbound.FrameScanner` follows the frame headers (see
    :mod:`mockws.wire.inbound`); it acts once the session calls its ``enforce``.

    Args:
        inner: aiohttp's protocol for this connection.
        max_header_size: Bytes allowed up to and including the blank line.
    """

    __slots__ = (
        "_inner",
        "_limit",
        "_seen",
        "_tail",
        "_state",
        "_transport",
        "frames",
        "outbox",
    )

    def __init__(self, inner: asyncio.Protocol, max_header_size: int) -> None:
        self._inner = inner
        self._limit = max_header_size
        self._seen = 0
        self._tail = b""
        self._state = _MEASURING
        self._transport: asyncio.Transport | None = None
        self.frames: FrameScanner | None = None
        # Told when the transport drains, so its held frames and waiting senders move on.
        self.outbox: Outbox | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Hand the transport to aiohttp, which writes to it directly."""
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self._transport = cast(asyncio.Transport, transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Measure the header block or follow the frames, then pass ``data`` on."""
        if self._state == _PASSING:
            frames = self.frames
            if frames is not None:
                allowed = frames.scan(data)
                if allowed <= 0:
                    return
                if allowed < len(data):
                    data = data[:allowed]
            self._inner.data_received(data)
            return
        if self._state == _REFUSED:
            return
        end = self._measure(data)
        if end < 0:
            return
        if end < len(data):
            assert self.frames is not None
            allowed = self.frames.scan(data[end:])
            data = data[: end + max(allowed, 0)]
        self._inner.data_received(data)

    def forward(self, data: bytes) -> None:
        """Pass bytes the frame scanner held back on to aiohttp."""
        self._inner.data_received(data)

    def _measure(self, data: bytes) -> int:
        """Return where the header block ends in ``data``, len(data) if not yet, -1 if refused."""
        window = self._tail + data
        offset = self._seen - len(self._tail)
        ends = [found for found in (window.find(end) for end in _HEADER_ENDS) if found >= 0]
        if ends:
            end_index = min(ends)
            block_size = offset + end_index + (4 if window[end_index] == 13 else 2)
            if block_size <= self._limit:
                self._state = _PASSING
                assert self._transport is not None
                self.frames = FrameScanner(self._transport, self)
                return block_size - self._seen
        elif offset + len(window) <= self._limit:
            self._seen += len(data)
            self._tail = window[-3:]
            return len(data)
        self._refuse()
        return -1

    def _refuse(self) -> None:
        # Later bytes must not reach aiohttp, which would answer them itself.
        self._state = _REFUSED
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        peer = transport.get_extra_info("peername")
        log.warning(
            "refused a request from %s: headers over %d bytes (limits.max_header_size)",
            peer,
            self._limit,
        )
        transport.write(TOO_LARGE_RESPONSE)
        transport.close()

    def eof_received(self) -> bool | None:
        """Tell aiohttp the client finished sending."""
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell aiohttp the connection is gone, and wake senders waiting on it."""
        self._inner.connection_lost(exc)
        if self.outbox is not None:
            self.outbox.writable()

    def pause_writing(self) -> None:
        """Pass the transport's flow control on to aiohttp."""
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        """Pass the transport's flow control on to aiohttp, then to the outbox."""
        self._inner.resume_writing()
        if self.outbox is not None:
            self.outbox.writable()


async def listen(
    runner: web.AppRunner,
    host: str,
    port: int,
    limits: ServerLimits,
    ssl_context: ssl.SSLContext | None = None,
    *,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Bind ``host``:``port`` and serve ``runner``'s application behind a ConnectionGuard.

    With ``ssl_context`` every connection speaks TLS first; the guard then
    sees the decrypted bytes. With ``reuse_port`` the socket is bound with
    SO_REUSEPORT (Linux spreads new connections over every process listening
    on the port).

    Raises:
        OSError: The address cannot be bound.
    """
    factory = protocol_factory(runner)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_AcceptErrors(loop.get_exception_handler()))
    return await loop.create_server(
        lambda: ConnectionGuard(factory(), limits.max_header_size),
        host,
        port,
        ssl=ssl_context,
        reuse_port=reuse_port or None,
    )


def _open_files_limit() -> tuple[int, int] | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def raise_open_files_limit() -> None:
    """Raise this process's soft limit of open files (``RLIMIT_NOFILE``) to its hard limit.

    Each connection is a file descriptor; the soft limit is often 1024.
    """
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        log.debug("could not raise the open files limit from %d to %d", soft, target)


class _AcceptErrors:
    """The loop's exception handler, with "out of file descriptors" on accept rate-limited.

    asyncio logs a traceback each time ``accept()`` fails with EMFILE/ENFILE
    (it retries every second, forever); one warning that names the limit and
    how to raise it says more, and repeats within a minute are dropped.
    """

    def __init__(self, previous: Any) -> None:
        self._previous = previous
        self._next_warning = 0.0
        self._silenced = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if (
            isinstance(error, OSError)
            and error.errno in (errno.EMFILE, errno.ENFILE)
            and "accept" in str(context.get("message", "")).lower()
        ):
            now = loop.time()
            if now >= self._next_warning:
                limits = _open_files_limit()
                limit = f"{limits[0]} (hard limit {limits[1]})" if limits else "unknown"
                log.warning(
                    "cannot accept connections: out of file descriptors (%s); the open files "
                    "limit (RLIMIT_NOFILE) is %s: raise it with 'ulimit -n N' before starting "
                    "mockws, or close connections. %d more such errors were silenced",
                    error.strerror,
                    limit,
                    self._silenced,
                )
                self._next_warning = now + ACCEPT_WARNING_INTERVAL
                self._silenced = 0
            else:
                self._silenced += 1
            return
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)


def frame_scanner(transport: asyncio.BaseTransport) -> FrameScanner | None:
    """Return the frame scanner of a connection accepted by :func:`listen`, else None."""
    protocol = transport.get_protocol()
    return protocol.frames if isinstance(protocol, ConnectionGuard) else None


def notify_writable(transport: asyncio.BaseTransport, outbox: Outbox) -> None:
    """Have ``outbox`` told whenever ``transport`` drains (a connection :func:`listen` accepted)."""
    protocol = transport.get_protocol()
    if isinstance(protocol, ConnectionGuard):
        protocol.outbox = outbox
        outbox.notify_on_drain()
