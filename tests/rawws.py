"""A bare-hands WebSocket client for tests that must see or send raw frames."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass, field
from typing import NamedTuple

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Frame(NamedTuple):
    """One frame as it came off the wire."""

    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int:
        return int(struct.unpack("!H", self.payload[:2])[0])


@dataclass
class RawClient:
    """The two ends of a TCP connection after a hand-made WebSocket handshake."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int
    headers: dict[str, str] = field(default_factory=dict)

    async def read_frame(self, timeout: float = 5.0) -> Frame:
        """Read the next frame (server frames are never masked)."""
        async with asyncio.timeout(timeout):
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            payload = await self.reader.readexactly(length)
        return Frame(bool(first & 0x80), bool(first & 0x40), first & 0x0F, payload)

    async def read_data_frame(self, timeout: float = 5.0) -> Frame:
        """Read frames until one that is not a PING or PONG."""
        while True:
            frame = await self.read_frame(timeout)
            if frame.opcode not in (OP_PING, OP_PONG):
                return frame

    def send_frame(
        self, opcode: int, payload: bytes, *, rsv1: bool = False, fin: bool = True
    ) -> None:
        """Write one masked frame, as a client must."""
        first = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", first, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", first, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, length)
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def close(self) -> None:
        """Drop the TCP connection."""
        self.writer.close()
        await self.writer.wait_closed()


async def raw_connect(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> RawClient:
    """Open a TCP connection and do the WebSocket handshake by hand.

    Args:
        port: The server's port on 127.0.0.1.
        path: The request target, with its query string.
        headers: Extra request headers (``Sec-WebSocket-Extensions``...).
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    async with asyncio.timeout(timeout):
        head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response = {}
    for line in header_lines:
        if ":" in line:
            name, _, value = line.partition(":")
            response[name.strip().lower()] = value.strip()
    return RawClient(reader, writer, int(status_line.split()[1]), response)
