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
from typing import Protocol

from .close import CloseCode, Failable
from .frames import FIN, LENGTH_BITS, MASKED, OPCODE_BITS, Opcode

__all__ = ["Forwarder", "FrameScanner"]


class Forwarder(Protocol):
    """Where held-back bytes go once there is room: the connection's protocol."""

    def forward(self, data: bytes) -> None:
        """Pass ``data`` on to the WebSocket reader."""
        ...


class FrameScanner:
    """Follows the frame boundaries of one client's byte stream.

    It counts complete data messages passed on (:attr:`passed`); once
    :meth:`enforce` gives it limits, it fails or pauses the connection.

    Args:
        transport: The connection's transport, paused and resumed here.
        forwarder: Takes the bytes held back while reading was paused.
    """

    __slots__ = (
        "_transport",
        "_forwarder",
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
        "_target",
        "_violation",
        "_masks",
    )

    def __init__(self, transport: asyncio.Transport, forwarder: Forwarder) -> None:
        self._transport = transport
        self._forwarder = forwarder
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
        self._target: Failable | None = None
        self._violation: tuple[int, str] | None = None
        # Off until the upgrade: before it, the bytes after the headers are an HTTP body.
        self._masks = False

    def upgraded(self) -> None:
        """The connection is a WebSocket now: from here on, unmasked frames fail it with 1002."""
        self._masks = True

    def enforce(self, max_fragments: int | None, max_queue: int | None, target: Failable) -> None:
        """Start enforcing the limits; a broken one calls ``target.fail(1008, reason)``.

        The target is kept rather than a callback closure per connection (idle memory).
        """
        self.max_fragments = max_fragments
        self.max_queue = max_queue
        self._resume_at = 0 if max_queue is None else max_queue // 2
        self._target = target
        if self._violation is not None:
            target.fail(*self._violation)

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
            if not second & MASKED and self._masks:
                # RFC 6455 5.1: a server must fail the connection on an unmasked frame.
                self._violate("Client frames must be masked", CloseCode.PROTOCOL_ERROR)
                # Frames before this one are complete: they may still be handled.
                passed = position - offset
                return passed if passed > 0 else -1
            length = second & LENGTH_BITS
            header = 2 + (4 if second & MASKED else 0)
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
            opcode = first & OPCODE_BITS
            if Opcode.is_control(opcode):
                continue
            self._fragments = self._fragments + 1 if opcode == Opcode.CONTINUATION else 1
            if self.max_fragments is not None and self._fragments > self.max_fragments:
                self._violate(
                    f"Message has more than {self.max_fragments} fragments",
                    CloseCode.POLICY_VIOLATION,
                )
                return -1
            if first & FIN:
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

    def _violate(self, reason: str, code: int) -> None:
        self._stash = b""
        self._failed = True
        self._violation = (code, reason)
        if self._target is not None:
            self._target.fail(code, reason)

    def take(self) -> None:
        """Note that the handler took one message; pass on held bytes once there is room."""
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
            self._forwarder.forward(stash[:passed] if passed < len(stash) else stash)
        if not self._paused and not self._transport.is_closing():
            self._transport.resume_reading()
