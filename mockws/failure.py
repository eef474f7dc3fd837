"""Failing a connection: the last close frame, then the socket is closed.

RFC 6455 section 7.1.7: an endpoint that must fail the connection sends a
close frame if it can and closes the TCP connection without waiting for the
peer's. Used for clients that stop reading and clients that break a limit.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

from .frames import build_frame, encode_close_reason

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["CLOSE_GRACE", "CLOSE_POLICY_VIOLATION", "fail_connection"]

log = logging.getLogger("mockws.connection")

CLOSE_POLICY_VIOLATION = 1008
CLOSE_GRACE = 5.0
_OP_CLOSE = 0x8


def fail_connection(conn: Connection, code: int, reason: str) -> bool:
    """Close ``conn`` with ``code`` now, without a closing handshake.

    The close frame goes out after whatever is already queued; the socket
    closes once that is sent, or is dropped :data:`CLOSE_GRACE` seconds later.
    ``on_close`` then sees ``code`` and ``reason``.

    Returns:
        False when the connection was already closing.
    """
    if conn._closing:
        return False
    conn._closing = True
    conn.close_code, conn.close_reason = code, reason
    log.warning("%s: closing with %d: %s", conn.id, code, reason)
    payload = struct.pack("!H", code) + encode_close_reason(reason)
    conn._outbox.fail(build_frame(_OP_CLOSE, payload), CLOSE_GRACE)
    return True
