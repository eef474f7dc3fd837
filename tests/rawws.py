"""A bare-hands WebSocket client for tests that must see, send or break raw frames."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest_asyncio

OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA
DEFLATE_TAIL = b"\x00\x00\xff\xff"
TIMEOUT = 5.0


class Frame(NamedTuple):
    """One frame as it came off the wire, with its exact bytes in ``raw``."""

    fin: bool
    rsv1: bool
    opcode: int
    payload: bytes
    raw: bytes = b""

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame, or None."""
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return int(struct.unpack("!H", self.payload[:2])[0])

    def json(self) -> Any:
        """The payload parsed as JSON text."""
        return json.loads(self.payload.decode("utf-8"))


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
    return header + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


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


# The clients of the running test that uses the raw_clients fixture, else None.
_OPEN: list[RawClient] | None = None


@dataclass
class RawClient:
    """The two ends of a TCP connection after a hand-made WebSocket handshake."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    status: int = 101
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if _OPEN is not None:
            _OPEN.append(self)

    @classmethod
    async def open(cls, port: int, limit: int = 2**16) -> RawClient:
        """Open a plain TCP connection to the server (no handshake yet)."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=limit)
        return cls(reader, writer, status=0)

    @classmethod
    async def upgrade(cls, port: int, path: str) -> RawClient:
        """Connect and complete the WebSocket handshake for ``path``."""
        client = await cls.open(port)
        client.writer.write(upgrade_request(path, port))
        head = await client.read_head()
        assert head.startswith("HTTP/1.1 101"), head
        client.status = 101
        return client

    async def read_head(self) -> str:
        """Read an HTTP response head; return it as text."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        return head.decode("latin-1")

    async def send(self, data: bytes) -> None:
        """Write raw bytes and flush them."""
        self.writer.write(data)
        await self.writer.drain()

    async def read_frame(self, timeout: float = 5.0) -> Frame:
        """Read the next frame and check it is a well-formed server frame (RFC 6455 5.2)."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(2)
            length = head[1] & 0x7F
            extended = b""
            if length == 126:
                extended = await self.reader.readexactly(2)
                (length,) = struct.unpack("!H", extended)
                assert length >= 126, "16-bit length used for a short payload"
            elif length == 127:
                extended = await self.reader.readexactly(8)
                (length,) = struct.unpack("!Q", extended)
                assert length >= 65536, "64-bit length used for a medium payload"
            payload = await self.reader.readexactly(length)
        assert not head[1] & 0x80, "a server frame must not be masked"
        first = head[0]
        return Frame(
            bool(first & 0x80), bool(first & 0x40), first & 0x0F, payload, head + extended + payload
        )

    async def read_data_frame(self, timeout: float = 5.0) -> Frame:
        """Read frames until one that is not a PING or PONG."""
        while True:
            frame = await self.read_frame(timeout)
            if frame.opcode not in (OP_PING, OP_PONG):
                return frame

    async def frames_until_quiet(self, quiet: float = 0.3) -> list[Frame]:
        """Read frames until none arrives for ``quiet`` seconds."""
        frames = []
        while True:
            try:
                frames.append(await self.read_frame(timeout=quiet))
            except TimeoutError:
                return frames

    def send_frame(
        self, opcode: int, payload: bytes, *, rsv1: bool = False, fin: bool = True
    ) -> None:
        """Write one masked frame, as a client must."""
        self.writer.write(frame(opcode, payload, rsv=0b100 if rsv1 else 0, fin=fin))

    def send_json(self, value: Any) -> None:
        """Send ``value`` as one JSON text frame."""
        self.send_frame(OP_TEXT, json.dumps(value).encode())

    async def read_close(self, timeout: float = TIMEOUT) -> int | None:
        """Skip data frames until a close frame; return its status code."""
        while True:
            received = await self.read_frame(timeout)
            if received.opcode == OP_CLOSE:
                return received.close_code

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """Whether the server closed the TCP connection (reads what is left)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), timeout):
                pass
        except ConnectionResetError:
            pass
        return True

    async def close(self) -> None:
        """Drop the TCP connection."""
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


@pytest_asyncio.fixture
async def raw_clients() -> AsyncIterator[list[RawClient]]:
    """Close every RawClient a test opened, when it ends."""
    global _OPEN
    _OPEN = opened = []
    try:
        yield opened
    finally:
        _OPEN = None
        for client in opened:
            await client.close()


async def raw_connect(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
    *,
    receive_buffer: int | None = None,
    reader_limit: int = 2**22,
) -> RawClient:
    """Open a TCP connection and do the WebSocket handshake by hand.

    Args:
        port: The server's port on 127.0.0.1.
        path: The request target, with its query string.
        headers: Extra request headers (``Sec-WebSocket-Extensions``...).
        receive_buffer: Shrink the socket's SO_RCVBUF first (a slow reader).
        reader_limit: The StreamReader's limit: it reads ahead up to twice
            this before it stops reading the socket (small for a non-reader).
    """
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=reader_limit)
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
