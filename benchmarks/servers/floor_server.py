"""The floor: a bare asyncio Protocol that writes pre-framed bytes.

It does the same JSON work as every peer but no more than the protocol
needs: a minimal upgrade, frame parsing, and one ``transport.write`` per
message per recipient (a broadcast frames once and writes the same bytes to
every member). What this costs is what one write per message per client
costs on this machine; going below it takes fewer writes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct

from .common import dumps, parse_args, ready, run

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC11B65"
ROOM: set[FloorProtocol] = set()


def server_frame(opcode: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        return struct.pack("!BB", 0x80 | opcode, length) + payload
    if length < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, length) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, length) + payload


def unmask(payload: bytes, mask: bytes) -> bytes:
    if mask == b"\0\0\0\0":
        return payload
    length = len(payload)
    key = (mask * (length // 4 + 1))[:length]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(length, "little")


class FloorProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.path: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        ROOM.discard(self)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if self.path is None and not self._upgrade(buffer):
            return
        self._frames(buffer)

    def _upgrade(self, buffer: bytearray) -> bool:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buffer[:end]).split(b"\r\n")
        del buffer[: end + 4]
        self.path = head[0].split(b" ")[1].split(b"?")[0]
        key = b""
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        if self.path == b"/room":
            ROOM.add(self)
        return True

    def _frames(self, buffer: bytearray) -> None:
        transport = self.transport
        assert transport is not None
        position, size = 0, len(buffer)
        while size - position >= 6:
            first, second = buffer[position], buffer[position + 1]
            length, header = second & 0x7F, 2
            if length == 126:
                length, header = int.from_bytes(buffer[position + 2 : position + 4], "big"), 4
            elif length == 127:
                length, header = int.from_bytes(buffer[position + 2 : position + 10], "big"), 10
            end = position + header + 4 + length
            if end > size:
                break
            mask = bytes(buffer[position + header : position + header + 4])
            payload = unmask(bytes(buffer[position + header + 4 : end]), mask)
            position = end
            opcode = first & 0x0F
            if opcode == 0x1:
                frame = server_frame(0x1, dumps(json.loads(payload)).encode())
                if self.path == b"/room":
                    for member in ROOM:
                        if member is not self and member.transport is not None:
                            member.transport.write(frame)
                else:
                    transport.write(frame)
            elif opcode == 0x8:
                transport.write(server_frame(0x8, payload[:2]))
                transport.close()
                ROOM.discard(self)
                break
            elif opcode == 0x9:
                transport.write(server_frame(0xA, payload))
        del buffer[:position]


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FloorProtocol, "127.0.0.1", port, backlog=1024)
    ready(port)
    async with server:
        await asyncio.Event().wait()


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run(lambda: main(args.port), args.loop)
