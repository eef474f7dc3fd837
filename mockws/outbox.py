"""The outgoing half of a connection: framed bytes, corked per loop iteration.

Frames queued for one connection during one event-loop iteration leave in
one ``transport.write`` at the end of that iteration, in the order they were
queued. A broadcast frames its message once and queues the same bytes for
every recipient, so its cost per recipient is an append, not a syscall.

Each outbox is bounded: once the bytes it holds plus those the transport has
not yet sent pass ``high_water``, new frames are refused (``queue`` returns
False) and counted as dropped, so a client that stops reading cannot grow the
server without bound.
"""

from __future__ import annotations

import asyncio

__all__ = ["DEFAULT_HIGH_WATER", "FlushScheduler", "Outbox"]

DEFAULT_HIGH_WATER = 4 * 1024 * 1024


class FlushScheduler:
    """Flushes every outbox that has pending frames once per loop iteration."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Outbox] = []
        self._scheduled = False

    def mark(self, outbox: Outbox) -> None:
        """Schedule ``outbox`` to be flushed at the end of this iteration."""
        self._dirty.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for outbox in dirty:
            outbox.flush()


class Outbox:
    """Bounded, corked frame queue in front of one connection's transport.

    Args:
        transport: The connection's transport; frames are written to it raw.
        scheduler: Flushes this outbox once per loop iteration.
        high_water: Byte limit of pending plus transport-buffered data.
    """

    __slots__ = ("_transport", "_scheduler", "_chunks", "_pending", "high_water", "dropped")

    def __init__(
        self,
        transport: asyncio.Transport,
        scheduler: FlushScheduler,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
    ) -> None:
        self._transport = transport
        self._scheduler = scheduler
        self._chunks: list[bytes] = []
        self._pending = 0
        self.high_water = high_water
        self.dropped = 0

    @property
    def buffered(self) -> int:
        """Bytes queued here plus bytes the transport still holds."""
        return self._pending + self._transport.get_write_buffer_size()

    def queue(self, frame: bytes) -> bool:
        """Queue one complete frame; return False if it was refused.

        A frame is refused when the transport is closing, or counted as
        dropped when the outbox is over its high-water mark.
        """
        if self._transport.is_closing():
            return False
        if self._pending + self._transport.get_write_buffer_size() > self.high_water:
            self.dropped += 1
            return False
        if not self._chunks:
            self._scheduler.mark(self)
        self._chunks.append(frame)
        self._pending += len(frame)
        return True

    def flush(self) -> None:
        """Write every queued frame now, in one write."""
        chunks = self._chunks
        if not chunks:
            return
        self._chunks = []
        self._pending = 0
        if self._transport.is_closing():
            return
        self._transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
