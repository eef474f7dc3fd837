"""A raw-socket WebSocket client for tests that must break the protocol on purpose."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio

TIMEOUT = 5.0


@dataclass
class Frame:
    """One frame as the server sent it."""

    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame, or None."""
        if self.opcode != 0x8 or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    length: int | None = None,
) -> bytes:
    """Build one masked client frame; ``length`` may lie about the payload size."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return header + mask + masked


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    """Cut ``data`` at the given offsets (taken modulo its length + 1), as reads would."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def upgrade_request(path: str, port: int, extra: str = "") -> bytes:
    """The HTTP upgrade request a browser sends for ``path``."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


_OPEN: list[RawClient] = []


class RawClient:
    """A TCP connection that speaks WebSocket only as far as a test wants.

    Tests that open one use the ``raw_clients`` fixture, which closes them all.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        _OPEN.append(self)

    @classmethod
    async def open(cls, port: int, limit: int = 2**16) -> RawClient:
        """Open a plain TCP connection to the server."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=limit)
        return cls(reader, writer)

    @classmethod
    async def upgrade(cls, port: int, path: str) -> RawClient:
        """Connect and complete the WebSocket handshake for ``path``."""
        client = await cls.open(port)
        client.writer.write(upgrade_request(path, port))
        status = await client.read_head()
        assert status.startswith("HTTP/1.1 101"), status
        return client

    async def read_head(self) -> str:
        """Read an HTTP response head; return it as text."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return head.decode("latin-1")

    async def send(self, data: bytes) -> None:
        """Write raw bytes and flush them."""
        self.writer.write(data)
        await self.writer.drain()

    async def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        """Read one server frame (servers never mask)."""
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        payload = await asyncio.wait_for(self.reader.readexactly(length), timeout)
        return Frame(bool(head[0] & 0x80), head[0] & 0x0F, payload)

    async def read_close(self, timeout: float = TIMEOUT) -> int | None:
        """Skip data frames until a close frame; return its status code."""
        while True:
            received = await self.read_frame(timeout)
            if received.opcode == 0x8:
                return received.close_code

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """Whether the server closed the TCP connection (reads what is left)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except ConnectionResetError:
            pass
        return True

    def close(self) -> None:
        """Drop the TCP connection."""
        self.writer.close()


@pytest_asyncio.fixture
async def raw_clients() -> AsyncIterator[list[RawClient]]:
    """Close every RawClient a test opened, when it ends."""
    _OPEN.clear()
    yield _OPEN
    for client in _OPEN:
        client.writer.close()
    for client in _OPEN:
        try:
            await client.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
    _OPEN.clear()
