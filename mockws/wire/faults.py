"""The building blocks of network faults: seeded chance, ordered delay, silence, reset.

Nothing here knows connections or events. :mod:`mockws.hub.faults` builds a
connection's faults from these; declarative rules use :class:`FaultRandom`
for their own ``delay`` and ``drop``, so that a seed means the same thing
everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from ..config.durations import DurationRange

__all__ = ["DelayLine", "FaultRandom", "SilentTransport", "reset_on_close"]

T = TypeVar("T")

# SO_LINGER on, with a zero timeout: close() sends RST and discards unsent data.
_LINGER_ZERO = struct.pack("ii", 1, 0)
# A timer may fire this early (asyncio's clock resolution and rounding).
_EARLY = 1e-6


class FaultRandom:
    """Random choices for faults, reproducible when seeded.

    Drops and delays draw from separate streams, so adding a latency does
    not change which messages a seeded ``drop`` loses.

    Args:
        seed: Any int or str; the same seed makes the same choices in the
            same order on every run. None draws from the OS.
    """

    __slots__ = ("_drops", "_delays")

    def __init__(self, seed: int | str | None = None) -> None:
        self._drops = random.Random(None if seed is None else f"{seed}/drop")
        self._delays = random.Random(None if seed is None else f"{seed}/delay")

    def chance(self, probability: float) -> bool:
        """Return True with ``probability`` (0 never, 1 always)."""
        if probability <= 0:
            return False
        return probability >= 1 or self._drops.random() < probability

    def delay(self, span: DurationRange) -> float:
        """Return a delay in seconds: ``span``'s value, or a uniform draw from its range."""
        if span.fixed:
            return span.low
        return self._delays.uniform(span.low, span.high)


class DelayLine(Generic[T]):
    """Holds items for a delay each, then releases them in the order they came.

    An item is never released before one put earlier: with a range of
    delays, a short draw waits for the longer one ahead of it, as bytes on
    one TCP connection do. One timer serves the whole line.

    Args:
        loop: The event loop whose clock and timers are used.
        release: Called with each item when its time comes.
    """

    __slots__ = ("_loop", "_release", "_items", "_timer", "_last_due")

    def __init__(self, loop: asyncio.AbstractEventLoop, release: Callable[[T], object]) -> None:
        self._loop = loop
        self._release = release
        self._items: deque[tuple[float, T]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._last_due = 0.0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, delay: float) -> None:
        """Release ``item`` ``delay`` seconds from now, or after the item before it."""
        due = max(self._loop.time() + delay, self._last_due)
        self._last_due = due
        self._items.append((due, item))
        if self._timer is None:
            self._timer = self._loop.call_at(due, self._fire)

    def _fire(self) -> None:
        self._timer = None
        items = self._items
        now = self._loop.time() + _EARLY
        while items and items[0][0] <= now:
            self._release(items.popleft()[1])
        if items and self._timer is None:
            self._timer = self._loop.call_at(items[0][0], self._fire)

    def drain(self) -> None:
        """Release every held item now, in order."""
        self._cancel()
        items = self._items
        while items:
            self._release(items.popleft()[1])

    def clear(self) -> None:
        """Forget every held item."""
        self._cancel()
        self._items.clear()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class SilentTransport:
    """A transport whose writes go nowhere: what a stalled peer's bytes meet.

    Everything else (``is_closing``, ``close``, ``get_extra_info``...) is the
    wrapped transport's, so closing still closes the socket.

    Args:
        transport: The transport being silenced.
    """

    __slots__ = ("_transport",)

    def __init__(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Discard ``data``."""

    def writelines(self, chunks: object) -> None:
        """Discard ``chunks``."""

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)


def reset_on_close(transport: asyncio.BaseTransport) -> None:
    """Make closing ``transport`` send a TCP reset (RST) instead of a FIN.

    With ``SO_LINGER`` on and a zero timeout, the kernel drops whatever is
    unsent and resets the connection when the socket closes: the peer sees
    "connection reset", with no close frame (a browser reports 1006).
    """
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
