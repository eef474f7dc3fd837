"""Limits on what a client sends: fragments per message, messages waiting to be handled.

aiohttp assembles fragmented messages and queues parsed ones without a bound
on either count (its queue is bounded in bytes only, at 128 KiB). A
:class:`FrameScanner` reads just the frame headers of the bytes on their way
from the socket to aiohttp, so that:

* a message of more than ``max_fragments`` frames fails the connection with
  1008 (aiohttp would otherwise keep concatenating them up to
  ``max_message_size``);
* once ``max_queue`` complete messages have reached aiohttp without the
  handler having started on them, reading from the socket stops (TCP then
  pushes back on the client) until the handler has caught up to half that.

Frame payloads are skipped, not read: the cost is one header parse per frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .failure import fail_connection
from .limits import EndpointLimits

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["FrameScanner", "watch_inbound"]

_FIN = 0x80
_OPCODE = 0x0F
_MASKED = 0x80
_LENGTH = 0x7F
_CONTINUATION = 0x0
_FIRST_CONTROL = 0x8


class FrameScanner:
    """Follows the frame boundaries of one client's byte stream.

    It counts complete data messages passed on (:attr:`passed`); once
    :meth:`enforce` gives it limits, it fails or pauses the connection.

    Args:
        transport: The connection's transport, paused and resumed here.
    """

    __slots__ = (
        "_transport",
        "_skip",
        "_head",
        "_fragments",
        "passed",
        "taken",
        "max_fragments",
        "max_queue",
        "_resume_at",
        "_paused",
        "_failed",
        "_stash",
        "_on_violation",
        "_owner",
    )

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._skip = 0
        self._head = b""
        self._fragments = 0
        self.passed = 0
        self.taken = 0
        self.max_fragments: int | None = None
        self.max_queue: int | None = None
        self._resume_at = 0
        self._paused = False
        self._failed = False
        self._stash = b""
        self._on_violation: Callable[[Any, int, str], object] | None = None
        self._owner: Any = None

    def enforce(
        self,
        max_fragments: int | None,
        max_queue: int | None,
        on_violation: Callable[[Any, int, str], object],
        owner: Any,
    ) -> None:
        """Start enforcing the limits; ``on_violation(owner, code, reason)`` fails the connection.

        The callback is a shared function given its ``owner``, not a closure
        per connection (idle memory).
        """
        self.max_fragments = max_fragments
        self.max_queue = max_queue
        self._resume_at = 0 if max_queue is None else max_queue // 2
        self._on_violation = on_violation
        self._owner = owner

    def scan(self, data: bytes) -> int:
        """Follow ``data``; return how much of it may go on to aiohttp now.

        The rest is kept until :meth:`take` makes room. Returns -1 when the
        connection was failed and nothing more may pass.
        """
        if self._failed:
            return -1
        if self._paused:
            self._stash += data
            self._transport.pause_reading()
            return 0
        return self._scan(data)

    def _scan(self, data: bytes) -> int:
        if self._head:
            # A header was cut by the last read: glue it to this one.
            offset = len(self._head)
            data, self._head, position = self._head + data, b"", 0
        else:
            offset, position = 0, self._skip
            if position >= len(data):
                self._skip = position - len(data)
                return len(data)
        size = len(data)
        while position < size:
            if size - position < 2:
                self._head, self._skip = data[position:], 0
                return size - offset
            first, second = data[position], data[position + 1]
            length = second & _LENGTH
            header = 2 + (4 if second & _MASKED else 0)
            if length == 126:
                header += 2
            elif length == 127:
                header += 8
            if size - position < header:
                self._head, self._skip = data[position:], 0
                return size - offset
            if length == 126:
                length = int.from_bytes(data[position + 2 : position + 4], "big")
            elif length == 127:
                length = int.from_bytes(data[position + 2 : position + 10], "big")
            position += header + length
            opcode = first & _OPCODE
            if opcode >= _FIRST_CONTROL:
                continue
            self._fragments = self._fragments + 1 if opcode == _CONTINUATION else 1
            if self.max_fragments is not None and self._fragments > self.max_fragments:
                self._violate(f"Message has more than {self.max_fragments} fragments")
                return -1
            if first & _FIN:
                self._fragments = 0
                self.passed += 1
                if self.max_queue is not None and self.passed - self.taken >= self.max_queue:
                    return self._pause(data, position, offset)
        self._skip = position - size
        return size - offset

    def _pause(self, data: bytes, position: int, offset: int) -> int:
        self._paused = True
        self._transport.pause_reading()
        cut = min(position, len(data))
        self._skip = position - cut
        self._stash = data[cut:]
        return cut - offset

    def _violate(self, reason: str) -> None:
        self._stash = b""
        self._failed = True
        if self._on_violation is not None:
            self._on_violation(self._owner, 1008, reason)

    def take(self, forward: Callable[[bytes], None] | None = None) -> None:
        """Note that the handler took one message; pass on held bytes once there is room.

        Held bytes go to ``forward``, by default to the ``forward`` method of
        the transport's protocol (the :class:`~mockws.listener.ConnectionGuard`).
        """
        self.taken += 1
        if not self._paused or self._failed:
            return
        if self.max_queue is not None and self.passed - self.taken > self._resume_at:
            return
        self._paused = False
        stash, self._stash = self._stash, b""
        if stash:
            passed = self._scan(stash)
            if passed < 0:
                return
            if forward is None:
                forward = self._transport.get_protocol().forward  # type: ignore[attr-defined]
            forward(stash[:passed] if passed < len(stash) else stash)
        if not self._paused and not self._transport.is_closing():
            self._transport.resume_reading()


def watch_inbound(
    conn: Connection, transport: asyncio.Transport, limits: EndpointLimits
) -> FrameScanner | None:
    """Enforce ``limits`` on what ``conn``'s client sends.

    Returns:
        The scanner whose ``take()`` to call each time the session takes a
        message, or None when the connection did not come through mockws's
        listener.
    """
    frames: FrameScanner | None = getattr(transport.get_protocol(), "frames", None)
    if frames is None:
        return None
    frames.enforce(limits.max_fragments, limits.max_queue, fail_connection, conn)
    return frames
