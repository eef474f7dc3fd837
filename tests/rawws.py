"""A raw WebSocket client for tests that must see the exact bytes the server sends."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawFrame:
    """One frame as it arrived: its exact bytes and the decoded fields."""

    raw: bytes
    fin: bool
    rsv: int
    opcode: int
    payload: bytes

    def json(self) -> Any:
        """The payload parsed as JSON text."""
        return json.loads(self.payload.decode("utf-8"))


class RawClient:
    """A client that reads frames byte by byte and checks each is well-formed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, path: str, *, receive_buffer: int | None = None, extensions: str = ""
    ) -> RawClient:
        """Open a WebSocket to ``path``; ``receive_buffer`` shrinks SO_RCVBUF first."""
        sock = socket.socket()
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=2**22)
        key = base64.b64encode(os.urandom(16)).decode()
        extra = f"Sec-WebSocket-Extensions: {extensions}\r\n" if extensions else ""
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        client = cls(reader, writer)
        client.response_head = head.decode("latin-1")
        return client

    response_head = ""

    def send_json(self, value: Any) -> None:
        """Send one masked text frame holding ``value`` as JSON."""
        payload = json.dumps(value).encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x81, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, length)
        self.writer.write(header + mask + masked)

    async def frame(self, timeout: float = 5.0) -> RawFrame:
        """Read one frame and assert it is a well-formed server frame (RFC 6455 5.2)."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(2)
            length = head[1] & 0x7F
            extended = b""
            if length == 126:
                extended = await self.reader.readexactly(2)
                length = struct.unpack("!H", extended)[0]
                assert length >= 126, "16-bit length used for a short payload"
            elif length == 127:
                extended = await self.reader.readexactly(8)
                length = struct.unpack("!Q", extended)[0]
                assert length >= 65536, "64-bit length used for a medium payload"
            payload = await self.reader.readexactly(length)
        assert not head[1] & 0x80, "a server frame must not be masked"
        frame = RawFrame(
            raw=head + extended + payload,
            fin=bool(head[0] & 0x80),
            rsv=(head[0] >> 4) & 0x7,
            opcode=head[0] & 0x0F,
            payload=payload,
        )
        if frame.opcode == 0x1:
            frame.payload.decode("utf-8")  # text frames carry valid UTF-8
        return frame

    async def frames_until_quiet(self, quiet: float = 0.3) -> list[RawFrame]:
        """Read frames until none arrives for ``quiet`` seconds."""
        frames = []
        while True:
            try:
                frames.append(await self.frame(timeout=quiet))
            except TimeoutError:
                return frames

    def close(self) -> None:
        """Drop the connection."""
        self.writer.close()
