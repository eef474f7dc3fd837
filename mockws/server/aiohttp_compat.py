"""Every reliance of mockws on aiohttp's private parts or unwritten behaviour.

mockws writes its own data frames (see :mod:`mockws.wire.outbox`), guards
each connection's bytes (see :mod:`mockws.server.listener`) and reads a few
outcomes aiohttp does not document. Each function below is one such
reliance; its comment names the aiohttp source it leans on, and
``tests/server/test_aiohttp_compat.py`` has a contract test per function
that fails with a clear message on an aiohttp release where the assumption
no longer holds. Read against aiohttp 3.14 (``pyproject.toml`` pins
``aiohttp<3.15``); nothing else in mockws touches aiohttp's internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from aiohttp import web

from ..config.limits import ServerLimits
from ..wire.close import CloseCode
from ..wire.outbox import Outbox, WritesAfterOutbox

__all__ = [
    "HEARTBEAT_TIMEOUT_REASON",
    "TESTED_AIOHTTP",
    "handler_options",
    "heartbeat_expired",
    "inflated_over_limit",
    "message_size_limit",
    "negotiated_window_bits",
    "protocol_error_code",
    "protocol_factory",
    "raw_transport",
    "write_control_frames_after",
]

TESTED_AIOHTTP = "3.14"

# 1006 because no close frame is exchanged: it is also what the client sees.
HEARTBEAT_TIMEOUT_REASON = "Heartbeat timeout"


def message_size_limit(max_message_size: int) -> int:
    """Return aiohttp's ``max_msg_size`` for a limit that allows ``max_message_size`` bytes.

    aiohttp/_websocket/reader_py.py ``WebSocketReader._feed_data`` refuses a
    frame once ``payload_bytes_to_read >= max_msg_size - partial_len``: a
    message of exactly ``max_msg_size`` bytes is refused with 1009. mockws's
    limit is inclusive.
    """
    return max_message_size + 1


def inflated_over_limit(data: str | bytes, max_message_size: int) -> bool:
    """Tell whether a message that arrived compressed is over ``max_message_size`` bytes.

    aiohttp/_websocket/reader_py.py ``WebSocketReader._handle_frame`` refuses
    a decompressed message only when ``len(payload) > max_msg_size``, not
    ``>=`` as for an uncompressed frame, so with :func:`message_size_limit`'s
    ``+ 1`` a compressed message of exactly ``max_message_size + 1`` bytes
    gets through; mockws checks that one itself. Text is measured in UTF-8
    bytes only when its length in characters could reach the limit.
    """
    if isinstance(data, str):
        if len(data) * 4 <= max_message_size:
            return False
        return len(data.encode("utf-8", "surrogatepass")) > max_message_size
    return len(data) > max_message_size


def raw_transport(request: web.Request) -> asyncio.Transport:
    """Return the transport mockws writes its own frames to, beside aiohttp's writer.

    aiohttp/web_ws.py ``WebSocketResponse._pre_start`` builds its
    ``WebSocketWriter`` on ``request._protocol.transport``, which is
    ``request.transport``; the writer keeps no frames of its own between
    calls (aiohttp/_websocket/writer.py ``send_frame`` writes each frame
    whole), so bytes written here interleave only at frame boundaries.

    Raises:
        ConnectionResetError: The client is already gone.
    """
    transport = request.transport
    if transport is None:
        raise ConnectionResetError("Connection lost")
    return transport


def write_control_frames_after(socket: web.WebSocketResponse, outbox: Outbox) -> None:
    """Make the frames aiohttp writes itself leave after the frames ``outbox`` holds.

    aiohttp writes close frames, pongs and heartbeat pings at once through
    ``WebSocketResponse._writer`` (set by ``_post_start``), a
    ``WebSocketWriter`` whose ``send_frame`` calls ``self.transport.write``
    (aiohttp/_websocket/writer.py). Swapping that attribute for a transport
    that flushes the outbox first keeps every frame in the order it was made.
    """
    writer = socket._writer
    if writer is None:
        return
    writer.transport = cast(asyncio.Transport, WritesAfterOutbox(writer.transport, outbox))


def negotiated_window_bits(socket: web.WebSocketResponse) -> int:
    """Return the permessage-deflate window the client allowed, 0 when none was agreed.

    aiohttp/web_ws.py ``_pre_start`` stores what ``ws_ext_parse`` returned
    for the client's offer (the window bits, 9 to 15, or 0) in
    ``self._compress``, read back through the ``compress`` property; before
    the handshake the property is the constructor's bool.
    """
    return int(socket.compress)


def heartbeat_expired(socket: web.WebSocketResponse) -> bool:
    """Tell whether aiohttp closed ``socket`` because its peer missed a heartbeat.

    aiohttp/web_ws.py ``_pong_not_received`` passes an
    ``asyncio.TimeoutError`` to ``_handle_ping_pong_exception``, which drops
    the transport without a close frame, records close code 1006 and keeps
    the error as ``exception()``. Every inbound byte, not only a PONG, resets
    that clock. The socket's own close waits also end in a TimeoutError, but
    only after mockws or the client chose a close code, recorded first.
    """
    return socket.close_code == CloseCode.ABNORMAL and isinstance(
        socket.exception(), asyncio.TimeoutError
    )


def protocol_error_code(error: BaseException) -> int:
    """Return the close code aiohttp already sent for a client's protocol error.

    aiohttp/_websocket/models.py ``WebSocketError`` carries it as ``code``;
    aiohttp/web_ws.py ``receive`` sends that close frame before returning the
    ERROR message. Anything else is reported as 1006.
    """
    return int(getattr(error, "code", CloseCode.ABNORMAL))


def protocol_factory(runner: web.AppRunner) -> Callable[[], asyncio.Protocol]:
    """Return the factory of aiohttp's per-connection protocol for a set-up ``runner``.

    aiohttp/web_runner.py ``BaseRunner.setup`` creates a ``web_server.Server``,
    exposed as ``runner.server``; calling it returns a ``RequestHandler``,
    which is what ``TCPSite.start`` hands to ``loop.create_server``.
    mockws wraps each one in its own guard instead of using a site.
    """
    server = runner.server
    if server is None:
        raise RuntimeError("call runner.setup() first")
    return cast(Callable[[], asyncio.Protocol], server)


def handler_options(limits: ServerLimits) -> dict[str, Any]:
    """Return the ``AppRunner`` keyword options that carry ``limits`` to aiohttp.

    ``AppRunner(**kwargs)`` passes them to every ``RequestHandler``
    (aiohttp/web_protocol.py): ``max_line_size`` and ``max_field_size`` are
    raised to the header budget so that mockws's own 431 answers first, and
    ``keepalive_timeout``, armed when a connection is made, closes one that
    has not completed a request in time (the handshake timeout).
    """
    options: dict[str, Any] = {
        "max_line_size": limits.max_header_size,
        "max_field_size": limits.max_header_size,
    }
    if limits.handshake_timeout is not None:
        options["keepalive_timeout"] = limits.handshake_timeout
    return options
