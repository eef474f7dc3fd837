"""Closing clients that stopped reading.

A connection's outbox drops messages once the client is ``send_high_water``
bytes behind (see :mod:`mockws.outbox`). When it has dropped
``slow_client_max_dropped`` messages in a row, or has been dropping for
``slow_client_timeout`` seconds, the client is failed: a 1008 close frame is
queued behind what it has not read yet, the socket is closed once that is
sent, and dropped at the latest :data:`CLOSE_GRACE` seconds later. Both are
checked whenever a message is dropped, so a stalled client that nobody sends
to stays open, holding at most its high-water mark.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING

from .frames import build_frame
from .limits import EndpointLimits
from .outbox import Outbox

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["CLOSE_GRACE", "CLOSE_POLICY_VIOLATION", "SlowClientWatch", "watch_slow_client"]

log = logging.getLogger("mockws.connection")

CLOSE_POLICY_VIOLATION = 1008
CLOSE_GRACE = 5.0
_OP_CLOSE = 0x8


class SlowClientWatch:
    """Called by an outbox for each dropped message; fails the client past a limit.

    Args:
        conn: The connection the outbox belongs to.
        limits: The endpoint's limits.
    """

    __slots__ = ("_conn", "_timeout", "_max_dropped", "_since")

    def __init__(self, conn: Connection, limits: EndpointLimits) -> None:
        self._conn = conn
        self._timeout = limits.slow_client_timeout
        self._max_dropped = limits.slow_client_max_dropped
        self._since = 0.0

    def __call__(self, outbox: Outbox) -> None:
        """Note one dropped message of ``outbox`` and fail the client if it is over a limit."""
        loop = outbox.loop
        if outbox.streak == 1:
            self._since = loop.time()
        if self._max_dropped is not None and outbox.streak >= self._max_dropped:
            self._fail(outbox, f"{outbox.streak} messages dropped")
        elif self._timeout is not None and loop.time() - self._since >= self._timeout:
            self._fail(outbox, f"behind for {loop.time() - self._since:.1f}s")

    def _fail(self, outbox: Outbox, why: str) -> None:
        conn = self._conn
        if conn._closing:
            return
        conn._closing = True
        reason = "Client too slow: " + why
        conn.close_code, conn.close_reason = CLOSE_POLICY_VIOLATION, reason
        log.warning(
            "%s: closing with 1008, the client is not reading (%s; %d bytes waiting)",
            conn.id,
            why,
            outbox.buffered,
        )
        payload = struct.pack("!H", CLOSE_POLICY_VIOLATION) + reason.encode()
        outbox.fail(build_frame(_OP_CLOSE, payload), CLOSE_GRACE)


def watch_slow_client(conn: Connection, outbox: Outbox, limits: EndpointLimits) -> None:
    """Close ``conn`` with 1008 when its outbox drops past ``limits``."""
    if limits.slow_client_timeout is None and limits.slow_client_max_dropped is None:
        return
    outbox.on_drop = SlowClientWatch(conn, limits)
