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
from collections.abc import Callable

__all__ = ["DEFAULT_HIGH_WATER", "FlushScheduler", "Outbox", "WritesAfterOutbox"]

DEFAULT_HIGH_WATER = 4 * 1024 * 1024


class FlushScheduler:
    """Flushes every outbox that has pending frames once per loop iteration.

    Args:
        loop: The event loop the outboxes are flushed on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._dirty: list[Outbox] = []
        self._scheduled = False

    def mark(self, outbox: Outbox) -> None:
        """Schedule ``outbox`` to be flushed at the end of this iteration."""
        self._dirty.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            self.loop.call_soon(self._flush_all)

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

    Attributes:
        dropped: Frames refused over the high-water mark, in all.
        streak: Frames refused since the last one that was accepted.
        on_drop: Called with the outbox after each refused frame.
    """

    __slots__ = (
        "_transport",
        "_scheduler",
        "_chunks",
        "_pending",
        "high_water",
        "dropped",
        "streak",
        "on_drop",
    )

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
        self.streak = 0
        self.on_drop: Callable[[Outbox], None] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this outbox is flushed on."""
        return self._scheduler.loop

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
            self.streak += 1
            if self.on_drop is not None:
                self.on_drop(self)
            return False
        self.streak = 0
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

    def abort(self) -> None:
        """Drop the connection now, discarding whatever is still buffered."""
        self._chunks = []
        self._pending = 0
        self._transport.abort()

    def fail(self, last_frame: bytes, grace: float) -> None:
        """Send ``last_frame`` after everything queued, then close; abort after ``grace`` s.

        The frame skips the high-water check: it is the last one. Closing waits
        for the client to read what is buffered, which a stalled client may
        never do, hence the abort.
        """
        self.flush()
        transport = self._transport
        if transport.is_closing():
            return
        transport.write(last_frame)
        transport.close()
        self.loop.call_later(grace, transport.abort)


class WritesAfterOutbox:
    """A transport for aiohttp's own frame writer that writes after the outbox.

    aiohttp writes some frames itself at once (the close frame when a client
    breaks the protocol, pongs, heartbeat pings), while the outbox holds data
    frames until the end of the loop iteration. Handing aiohttp's writer this
    transport flushes the outbox first, so frames leave in the order they
    were produced: an echo queued before a protocol error reaches the client
    before the close frame.

    Args:
        transport: The connection's transport.
        outbox: The connection's outbox.
    """

    __slots__ = ("_transport", "_outbox")

    def __init__(self, transport: asyncio.Transport, outbox: Outbox) -> None:
        self._transport = transport
        self._outbox = outbox

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Flush the outbox, then write ``data``."""
        self._outbox.flush()
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)
