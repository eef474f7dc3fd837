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
from collections.abc import Callable, Mapping
from typing import Any, cast

from aiohttp import web

from ..config.limits import ServerLimits
from ..wire.close import CloseCode
from ..wire.faults import SilentTransport
from ..wire.outbox import Outbox, WritesAfterOutbox

__all__ = [
    "HEARTBEAT_TIMEOUT_REASON",
    "TESTED_AIOHTTP",
    "await_close_reply",
    "handler_options",
    "heartbeat_expired",
    "inflated_over_limit",
    "message_size_limit",
    "negotiated_window_bits",
    "protocol_error_code",
    "protocol_factory",
    "raw_transport",
    "stall_socket",
    "set_route_params",
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


def stall_socket(socket: web.WebSocketResponse) -> None:
    """Make ``socket`` write nothing more and answer no ping, while it stays open.

    A stalled peer (``faults.stall``) must not answer pings, so that a
    client's heartbeat notices it. aiohttp/web_ws.py ``receive`` answers a
    PING with ``pong()`` while ``_autoping`` is true; false, it returns the
    PING as a message, which the session's read loop skips. The heartbeat
    would go on pinging and give up on the missing pongs
    (``_send_heartbeat``, ``_pong_not_received``): ``_cancel_heartbeat``
    stops its timers and ``_heartbeat = None`` keeps inbound data
    (``_on_data_received``, ``_reset_heartbeat``) from starting them again.
    Last, every frame aiohttp writes itself (a close frame in answer to the
    client's) goes through ``_writer.transport``
    (aiohttp/_websocket/writer.py ``send_frame``): a
    :class:`~mockws.wire.faults.SilentTransport` there swallows it, while
    ``close()`` still closes the real transport.
    """
    socket._autoping = False
    socket._cancel_heartbeat()
    socket._heartbeat = None
    writer = socket._writer
    if writer is not None:
        writer.transport = cast(asyncio.Transport, SilentTransport(writer.transport))


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


def await_close_reply(socket: web.WebSocketResponse) -> None:
    """Make a ``close()`` called from another task wait for the client's close frame.

    aiohttp/web_ws.py ``close``, when another task waits in ``receive``,
    feeds the reader ``WS_CLOSING_MESSAGE`` to end that wait; ``receive``
    answers it with ``_set_closing``, and ``close`` then finds ``_closing``
    set and closes the transport at once, as if the client's close frame had
    come, instead of reading it (up to its ``timeout``). The client sees TCP
    end mid-handshake (Chromium: ``wasClean == false``). Call this in the
    task that got the CLOSING message, before it awaits anything: ``close``
    then reads until the client's close frame, or times out.
    """
    socket._closing = False


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


def set_route_params(request: web.Request, params: Mapping[str, str]) -> None:
    """Make ``request.match_info`` hold a route's parameters, as aiohttp's own routes do.

    mockws matches its HTTP routes itself, behind one catch-all aiohttp
    route whose match info holds only ``tail``. aiohttp/web_urldispatcher.py
    ``UrlMappingMatchInfo`` subclasses ``dict`` (through ``BaseDict``) and
    ``request.match_info`` returns that very object, so a handler's
    ``request.match_info["name"]`` reads what is put here.
    """
    info = request.match_info
    assert isinstance(info, dict)
    info.clear()
    info.update(params)
