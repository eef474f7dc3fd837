"""Recognise a connection that aiohttp closed for a missed heartbeat.

aiohttp sends the pings (``WebSocketResponse(heartbeat=N)``): after N
seconds without inbound traffic it pings, and when nothing at all arrives in
the next N/2 seconds it drops the TCP connection without a close frame,
records close code 1006 and keeps a TimeoutError as the socket's exception.
Every inbound byte, not only a PONG, resets that clock, even while a handler
is busy. aiohttp reports that ending differently depending on whether the
reader was waiting; mockws reports it one way: 1006 "Heartbeat timeout".
"""

from __future__ import annotations

import asyncio

from aiohttp import web

__all__ = ["HEARTBEAT_TIMEOUT_CODE", "HEARTBEAT_TIMEOUT_REASON", "heartbeat_expired"]

# 1006 because no close frame is exchanged: it is also what the client sees.
HEARTBEAT_TIMEOUT_CODE = 1006
HEARTBEAT_TIMEOUT_REASON = "Heartbeat timeout"


def heartbeat_expired(socket: web.WebSocketResponse) -> bool:
    """Tell whether aiohttp closed ``socket`` because its peer missed a heartbeat.

    The socket's own close waits also end in a TimeoutError, but only after
    mockws or the client chose a close code, which is recorded first.
    """
    return socket.close_code == HEARTBEAT_TIMEOUT_CODE and isinstance(
        socket.exception(), asyncio.TimeoutError
    )
