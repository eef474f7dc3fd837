"""Closing clients that stopped reading.

A connection's outbox drops messages once the client is ``send_high_water``
bytes behind (see :mod:`mockws.wire.outbox`). When it has dropped
``slow_client_max_dropped`` messages in a row, or has been dropping for
``slow_client_timeout`` seconds, the client is failed: a 1008 close frame is
queued behind what it has not read yet, the socket is closed once that is
sent, and dropped at the latest ``close_grace`` seconds later
(:meth:`mockws.hub.connection.Connection.fail`). Both are checked whenever a
message is dropped, so a stalled client that nobody sends to stays open,
holding at most its high-water mark.
"""

from __future__ import annotations

from ..config.limits import EndpointLimits
from .close import CloseCode, Failable
from .outbox import Outbox

__all__ = ["SlowClientWatch", "watch_slow_client"]


class SlowClientWatch:
    """Called by an outbox for each dropped message; fails the client past a limit.

    Args:
        conn: The connection the outbox belongs to.
        limits: The endpoint's limits.
    """

    __slots__ = ("_conn", "_timeout", "_max_dropped", "_since")

    def __init__(self, conn: Failable, limits: EndpointLimits) -> None:
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
            self._fail(f"{outbox.streak} messages dropped")
        elif self._timeout is not None and loop.time() - self._since >= self._timeout:
            self._fail(f"behind for {loop.time() - self._since:.1f}s")

    def _fail(self, why: str) -> None:
        self._conn.fail(CloseCode.POLICY_VIOLATION, f"Client too slow: {why}")


def watch_slow_client(conn: Failable, outbox: Outbox, limits: EndpointLimits) -> None:
    """Close ``conn`` with 1008 when its outbox drops past ``limits``."""
    if limits.slow_client_timeout is None and limits.slow_client_max_dropped is None:
        return
    outbox.on_drop = SlowClientWatch(conn, limits)
