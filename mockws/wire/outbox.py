"""The outgoing half of a connection: framed bytes, corked per loop iteration.

Frames queued for one connection during one event-loop iteration leave in
one ``transport.write`` at the end of that iteration, in the order they were
queued. A broadcast frames its message once and queues the same bytes for
every recipient, so its cost per recipient is an append, not a syscall.

Each outbox is bounded by ``high_water``: the bytes it holds plus those the
transport has not yet sent. It never hands the transport more than that: what
does not fit (the tail of a message larger than the mark, or messages queued
while the client is behind) stays here, uncopied, and is written as the
client reads (:meth:`Outbox.writable`, called when the transport drains).
What a message does when the client is over the mark is the endpoint's
``on_backpressure`` policy:

``wait``
    The message is queued and the sender waits (:meth:`Outbox.drained`) until
    the client is under the mark again, up to ``slow_client_timeout`` from when
    it fell behind; then the connection is failed with 1008.
``drop_newest``
    The new message is refused and counted in ``dropped``.
``drop_oldest``
    The new message is queued and the oldest not yet started is dropped and
    counted, so a latest-value stream delivers its latest values.
``close``
    The client is failed with 1008 at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = [
    "BEHIND",
    "DEFAULT_HIGH_WATER",
    "DROP_NEWEST",
    "DROP_OLDEST",
    "FAIL",
    "QUEUED",
    "REFUSED",
    "WAIT",
    "FlushScheduler",
    "Outbox",
    "WritesAfterOutbox",
    "policy_code",
]

DEFAULT_HIGH_WATER = 4 * 1024 * 1024

# What Outbox.queue returns: falsy when the frame was not queued.
REFUSED = 0
QUEUED = 1
BEHIND = 2  # queued, and the client is over the mark: the sender should wait

# on_backpressure policies, as small ints for the hot path.
WAIT, DROP_OLDEST, DROP_NEWEST, FAIL = 0, 1, 2, 3
_POLICIES = {"wait": WAIT, "drop_oldest": DROP_OLDEST, "drop_newest": DROP_NEWEST, "close": FAIL}

# How often a waiting sender looks again when nothing reports the transport draining.
_POLL = 0.01
# The transport's own flow-control mark stays below ours so that a client over
# our mark always has the transport paused, and its draining is reported.
_TRANSPORT_HIGH = 64 * 1024


def policy_code(name: str) -> int:
    """Return the policy constant for an ``on_backpressure`` name."""
    return _POLICIES[name]


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


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
        policy: What a frame does over the mark (:func:`policy_code`).
        timeout: Seconds a client may stay over the mark before
            :meth:`drained` gives up on it; None: never.
        close_grace: Seconds :meth:`fail` keeps the socket for the client to
            read its backlog and the close frame.

    Attributes:
        dropped: Frames dropped by the drop policies, and frames discarded
            unsent when the connection was failed.
        streak: Frames dropped since the client was last under the mark.
        behind_since: Loop time the client was first seen over the mark
            since it was last under it; None while it is under.
        on_drop: Called with the outbox after each dropped frame.
        on_over: Called with the outbox when the ``close`` policy refuses a frame.
    """

    __slots__ = (
        "_transport",
        "_scheduler",
        "_chunks",
        "_pending",
        "_held",
        "_head_started",
        "_waiter",
        "_notified",
        "high_water",
        "policy",
        "timeout",
        "close_grace",
        "dropped",
        "streak",
        "behind_since",
        "on_drop",
        "on_over",
    )

    def __init__(
        self,
        transport: asyncio.Transport,
        scheduler: FlushScheduler,
        *,
        high_water: int = DEFAULT_HIGH_WATER,
        policy: int = WAIT,
        timeout: float | None = None,
        close_grace: float = 5.0,
    ) -> None:
        self._transport = transport
        self._scheduler = scheduler
        self._chunks: list[bytes | memoryview] = []
        self._pending = 0
        self._held = False
        self._head_started = False
        self._waiter: asyncio.Future[None] | None = None
        self._notified = False
        self.high_water = high_water
        self.policy = policy
        self.timeout = timeout
        self.close_grace = close_grace
        self.dropped = 0
        self.streak = 0
        self.behind_since: float | None = None
        self.on_drop: Callable[[Outbox], None] | None = None
        self.on_over: Callable[[Outbox], None] | None = None
        if high_water < 2 * _TRANSPORT_HIGH:
            transport.set_write_buffer_limits(high=high_water // 2)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this outbox is flushed on."""
        return self._scheduler.loop

    @property
    def buffered(self) -> int:
        """Bytes queued here plus bytes the transport still holds."""
        return self._pending + self._transport.get_write_buffer_size()

    @property
    def over(self) -> bool:
        """True while the client is more than ``high_water`` bytes behind."""
        return self._pending + self._transport.get_write_buffer_size() > self.high_water

    def notify_on_drain(self) -> None:
        """Say that :meth:`writable` will be called whenever the transport drains.

        Without it, a waiting sender and held-back frames look again every
        few milliseconds instead.
        """
        self._notified = True

    def queue(self, frame: bytes) -> int:
        """Queue one complete frame; return REFUSED, QUEUED or BEHIND.

        REFUSED when the transport is closing or the policy refused it;
        BEHIND when it was queued with the client over the mark, so that a
        ``wait`` sender should :meth:`drained` before sending more.
        """
        transport = self._transport
        if transport.is_closing():
            return REFUSED
        size = len(frame)
        # One comparison on the fast path: under the mark even with this frame.
        if self._pending + transport.get_write_buffer_size() + size > self.high_water:
            return self._crossing(frame)
        self.streak = 0
        self.behind_since = None
        chunks = self._chunks
        if not chunks:
            self._scheduler.mark(self)
        chunks.append(frame)
        self._pending += size
        return QUEUED

    def _crossing(self, frame: bytes) -> int:
        """Queue or refuse a frame that takes the client past the mark, or finds it past it."""
        transport = self._transport
        buffered = self._pending + transport.get_write_buffer_size()
        if buffered > self.high_water and self._pending and not self._held:
            # A sender that has not yielded yet: write now, and judge the client
            # by what the transport still holds, not by our own cork.
            self.flush()
            buffered = self._pending + transport.get_write_buffer_size()
        if buffered > self.high_water:
            return self._over(frame)
        self.streak = 0
        self.behind_since = None
        chunks = self._chunks
        if not chunks:
            self._scheduler.mark(self)
        chunks.append(frame)
        self._pending += len(frame)
        if self.policy == WAIT:
            self._fell_behind()
            return BEHIND
        return QUEUED

    def _over(self, frame: bytes) -> int:
        """Apply the policy to a frame for a client already over the mark."""
        self._fell_behind()
        policy = self.policy
        if policy == DROP_NEWEST:
            self._count_drop()
            return REFUSED
        if policy == FAIL:
            if self.on_over is not None:
                self.on_over(self)
            return REFUSED
        chunks = self._chunks
        if not chunks:
            self._scheduler.mark(self)
        chunks.append(frame)
        self._pending += len(frame)
        if policy == WAIT:
            return BEHIND
        # drop_oldest: drop from the oldest frame not yet started, never the new one.
        first = 1 if self._head_started else 0
        while len(chunks) - first > 1 and self.buffered > self.high_water:
            self._pending -= len(chunks.pop(first))
            self._count_drop()
        return QUEUED

    def _fell_behind(self) -> None:
        if self.behind_since is None:
            self.behind_since = self._scheduler.loop.time()

    def _count_drop(self) -> None:
        self.dropped += 1
        self.streak += 1
        if self.on_drop is not None:
            self.on_drop(self)

    def flush(self) -> None:
        """Write the queued frames, in one write, as far as the mark allows.

        What would take the transport past ``high_water`` is held here and
        written by :meth:`writable` as the client reads.
        """
        chunks = self._chunks
        if not chunks:
            return
        transport = self._transport
        if transport.is_closing():
            self._chunks = []
            self._pending = 0
            return
        room = self.high_water - transport.get_write_buffer_size()
        if self._pending <= room:
            self._chunks = []
            self._pending = 0
            self._held = self._head_started = False
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))
            return
        self._write_part(room)

    def flush_all(self) -> None:
        """Write every queued frame now, past the mark too (before a control frame)."""
        chunks = self._chunks
        if not chunks:
            return
        self._chunks = []
        self._pending = 0
        self._held = self._head_started = False
        if not self._transport.is_closing():
            self._transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _write_part(self, room: int) -> None:
        """Write what fits under the mark and hold the rest until the transport drains.

        It writes until the transport holds the mark or nothing is left: a
        transport that holds the mark has paused its protocol, so its draining
        will be reported (:meth:`writable`).
        """
        chunks = self._chunks
        transport = self._transport
        while chunks and room > 0:
            taken: list[bytes | memoryview] = []
            while chunks and room > 0:
                chunk = chunks[0]
                if len(chunk) <= room:
                    taken.append(chunks.pop(0))
                    room -= len(chunk)
                    self._head_started = False
                else:
                    view = chunk if isinstance(chunk, memoryview) else memoryview(chunk)
                    taken.append(view[:room])
                    chunks[0] = view[room:]
                    room = 0
                    self._head_started = True
            self._pending -= sum(len(part) for part in taken)
            transport.write(taken[0] if len(taken) == 1 else b"".join(taken))
            room = self.high_water - transport.get_write_buffer_size()
        self._held = bool(chunks)
        if chunks and not self._notified:
            self._scheduler.loop.call_later(_POLL, self.writable)

    def writable(self) -> None:
        """The transport drained: write what was held, wake waiting senders."""
        if self._held:
            self._held = False
            self.flush()
        if self.buffered <= self.high_water or self._transport.is_closing():
            waiter, self._waiter = self._waiter, None
            if waiter is not None:
                _wake(waiter)

    async def drained(self) -> bool:
        """Wait until the client is under the mark; flush first, and yield at least once.

        Returns:
            True once it is under the mark; False when the transport closed or
            the client stayed over the mark ``timeout`` seconds.
        """
        self.flush()
        loop = self._scheduler.loop
        if not self.over:
            # A sender in a tight loop must still let other connections be served.
            await asyncio.sleep(0)
            return not self._transport.is_closing()
        while not self._transport.is_closing():
            if not self.over:
                self.behind_since = None
                return True
            now = loop.time()
            if self.behind_since is None:
                self.behind_since = now
            wait: float | None = None
            if self.timeout is not None:
                wait = self.behind_since + self.timeout - now
                if wait <= 0:
                    return False
            if not self._notified:
                wait = _POLL if wait is None else min(wait, _POLL)
            waiter = self._waiter
            if waiter is None:
                waiter = self._waiter = loop.create_future()
            handle = loop.call_later(wait, _wake, waiter) if wait is not None else None
            try:
                await waiter
            finally:
                if handle is not None:
                    handle.cancel()
                if self._waiter is waiter and waiter.done():
                    self._waiter = None
        return False

    def abort(self) -> None:
        """Drop the connection now, discarding whatever is still buffered."""
        self._chunks = []
        self._pending = 0
        self._transport.abort()
        self.writable()

    def fail(self, last_frame: bytes, grace: float | None = None) -> None:
        """Send ``last_frame`` after what the transport holds, then close; abort after ``grace`` s.

        Frames still held here and not started are discarded (counted in
        ``dropped``): the client is being closed for not reading them. The
        close frame skips the high-water check. Closing waits for the client
        to read what is buffered, which a stalled client may never do, hence
        the abort (after ``close_grace`` when ``grace`` is None).
        """
        chunks = self._chunks
        if self._held and chunks:
            keep = 1 if self._head_started else 0
            self.dropped += len(chunks) - keep
            del chunks[keep:]
            self._pending = sum(len(chunk) for chunk in chunks)
        transport = self._transport
        if chunks and not transport.is_closing():
            transport.write(b"".join(chunks))
        self._chunks = []
        self._pending = 0
        self._held = self._head_started = False
        if transport.is_closing():
            self.writable()
            return
        transport.write(last_frame)
        transport.close()
        self.loop.call_later(self.close_grace if grace is None else grace, transport.abort)
        self.writable()


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
        """Flush the outbox, all of it, then write ``data``."""
        self._outbox.flush_all()
        self._transport.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._transport, name)
