"""A minimal asyncio WebSocket client for load generation.

It does just what the benchmark needs, with as little client CPU as
possible so that the load generator disturbs the measured server less:
an HTTP/1.1 upgrade, text frames masked with a zero key (a valid mask per
RFC 6455 that leaves the payload unchanged, so masking costs nothing), and
a parser for the server's unmasked, unfragmented frames.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import Callable

__all__ = ["OP_CLOSE", "OP_TEXT", "WsClient", "client_frame", "connect"]

OP_TEXT = 0x1
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_ZERO_MASK = b"\0\0\0\0"

OnMessage = Callable[["WsClient", int, bytes], None]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """Return one final client frame, masked with a zero key."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + _ZERO_MASK + payload


CLOSE_FRAME = client_frame(OP_CLOSE, struct.pack("!H", 1000))


class WsClient(asyncio.Protocol):
    """One client connection; ``on_message(client, opcode, payload)`` per message."""

    def __init__(self, on_message: OnMessage | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.on_message = on_message
        self.received = 0
        self.seq = 0
        self.sent_at = 0.0
        self.response_head = b""
        self._buffer = bytearray()
        self._open = False
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send_text(self, payload: bytes) -> None:
        """Queue one text message."""
        assert self.transport is not None
        self.transport.write(client_frame(OP_TEXT, payload))

    def close(self) -> None:
        """Start the closing handshake; ``closed`` resolves when the server is done."""
        if self.transport is None or self.transport.is_closing():
            return
        if not self._closing:
            self._closing = True
            self.transport.write(CLOSE_FRAME)

    def abort(self) -> None:
        """Drop the TCP connection at once."""
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.response_head = bytes(buffer[:end])
            status = self.response_head.split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode("latin-1")))
                assert self.transport is not None
                self.transport.close()
                return
            self._open = True
            self.upgraded.set_result(None)
        self._parse(buffer)

    def _parse(self, buffer: bytearray) -> None:
        position = 0
        size = len(buffer)
        while size - position >= 2:
            first = buffer[position]
            length = buffer[position + 1] & 0x7F
            header = 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                header = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                header = 10
            end = position + header + length
            if end > size:
                break
            payload = bytes(buffer[position + header : end])
            position = end
            opcode = first & 0x0F
            if opcode == OP_CLOSE:
                self._on_close()
            elif opcode == OP_PING:
                assert self.transport is not None
                self.transport.write(client_frame(OP_PONG, payload))
            elif opcode != OP_PONG:
                self.received += 1
                if self.on_message is not None:
                    self.on_message(self, opcode, payload)
        if position:
            del buffer[:position]

    def _on_close(self) -> None:
        assert self.transport is not None
        if not self._closing:
            self._closing = True
            self.transport.write(CLOSE_FRAME)
        self.transport.close()


async def connect(
    port: int,
    path: str,
    on_message: OnMessage | None = None,
    *,
    headers: str = "",
    timeout: float = 10.0,
) -> WsClient:
    """Open one WebSocket to ``127.0.0.1:port`` + ``path`` and wait for the upgrade.

    Args:
        port: The server's port on loopback.
        path: Request path with its query string.
        on_message: Called with (client, opcode, payload) for each data frame.
        headers: Extra header lines, each ending in CRLF.
        timeout: Seconds for the TCP connect and the upgrade together.
    """
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{headers}\r\n"
    ).encode()
    async with asyncio.timeout(timeout):
        _, client = await loop.create_connection(lambda: WsClient(on_message), "127.0.0.1", port)
        assert client.transport is not None
        client.transport.write(request)
        await client.upgraded
    return client
