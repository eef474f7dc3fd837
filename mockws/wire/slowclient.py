"""Closing clients that stay behind.

A client more than ``send_high_water`` bytes behind is handled by its
endpoint's ``on_backpressure`` policy (see :mod:`mockws.wire.outbox`). This
module closes the ones that stay behind: with ``wait``, a sender that waited
``slow_client_timeout`` seconds for the client fails it
(:meth:`mockws.hub.connection.Connection.drain`); with the drop policies, a
client that has had ``slow_client_max_dropped`` messages dropped since it was
last under the mark, or has been over it for ``slow_client_timeout``
seconds, is failed when the next message is dropped; with ``close`` it is
failed at once. Failing queues a 1008 close frame behind what the client has
not read yet, closes the socket once that is sent, and drops it at the latest
``close_grace`` seconds later (:meth:`mockws.hub.connection.Connection.fail`).
A stalled client that nobody sends to stays open, holding at most its
high-water mark.
"""

from __future__ import annotations

from ..config.limits import EndpointLimits
from .close import CloseCode, Failable
from .outbox import Outbox

__all__ = ["SlowClientWatch", "too_slow_reason", "watch_slow_client"]


def too_slow_reason(outbox: Outbox) -> str:
    """Return the 1008 reason for a client failed because it stayed behind."""
    since = outbox.behind_since
    behind = 0.0 if since is None else outbox.loop.time() - since
    return f"Client too slow: behind for {behind:.1f}s"


class SlowClientWatch:
    """Called by an outbox for each dropped message; fails the client past a limit.

    Args:
        conn: The connection the outbox belongs to.
        limits: The endpoint's limits.
    """

    __slots__ = ("_conn", "_timeout", "_max_dropped")

    def __init__(self, conn: Failable, limits: EndpointLimits) -> None:
        self._conn = conn
        self._timeout = limits.slow_client_timeout
        self._max_dropped = limits.slow_client_max_dropped

    def __call__(self, outbox: Outbox) -> None:
        """Note one dropped message of ``outbox`` and fail the client if it is over a limit."""
        since = outbox.behind_since
        if self._max_dropped is not None and outbox.streak >= self._max_dropped:
            self._fail(f"{outbox.streak} messages dropped")
        elif (
            self._timeout is not None
            and since is not None
            and outbox.loop.time() - since >= self._timeout
        ):
            self._conn.fail(CloseCode.POLICY_VIOLATION, too_slow_reason(outbox))

    def over(self, outbox: Outbox) -> None:
        """The ``close`` policy: fail the client as soon as it is over the mark."""
        self._fail(f"over send_high_water ({outbox.high_water} bytes)")

    def _fail(self, why: str) -> None:
        self._conn.fail(CloseCode.POLICY_VIOLATION, f"Client too slow: {why}")


def watch_slow_client(conn: Failable, outbox: Outbox, limits: EndpointLimits) -> None:
    """Close ``conn`` with 1008 when its outbox drops past ``limits`` (or at once for ``close``)."""
    watch = SlowClientWatch(conn, limits)
    outbox.on_over = watch.over
    if limits.slow_client_timeout is not None or limits.slow_client_max_dropped is not None:
        outbox.on_drop = watch
