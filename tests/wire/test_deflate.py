"""permessage-deflate per message (mockws/wire/deflate.py), checked on raw frames."""

from __future__ import annotations

import asyncio
import json
import os
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets

from mockws.testing import RunningServer, run_server
from mockws.wire.deflate import Deflater

from ..helpers import WriteFile, endpoint
from ..rawws import DEFLATE_TAIL, OP_BINARY, OP_CLOSE, OP_TEXT, RawClient, raw_connect

THRESHOLD = 100
OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}
HANDLER = """
CLOSED = []

async def on_message(conn, data):
    if isinstance(data, dict) and "size" in data:
        body = (data.get("fill", "a") * data["size"])[: data["size"]]
        await conn.send(body.encode() if data.get("binary") else body)
    elif isinstance(data, dict) and "broadcast" in data:
        await conn.broadcast("b" * data["broadcast"], include_self=True)
    else:
        await conn.send(data)

async def on_close(conn, code, reason):
    CLOSED.append((code, reason))
"""


@pytest.fixture
async def server(project: Path, write: WriteFile) -> Any:
    """/z compresses messages of 100 bytes and more; /plain has compression off."""
    write("sizes.py", HANDLER)
    config = {
        "endpoints": [
            endpoint(
                "/z",
                "sizes.py",
                compression={"enabled": True, "threshold": THRESHOLD},
                max_message_size=1000,
            ),
            endpoint("/plain", "sizes.py", compression={"enabled": False}),
        ]
    }
    async with run_server(config, base_dir=project) as running:
        yield running


def request(client: RawClient, **message: Any) -> None:
    client.send_frame(OP_TEXT, json.dumps(message).encode())


def inflate(inflater: Any, payload: bytes) -> bytes:
    return inflater.decompress(payload + DEFLATE_TAIL)  # type: ignore[no-any-return]


async def test_threshold_splits_plain_and_compressed_frames(server: RunningServer) -> None:
    """Under the threshold RSV1 is clear and the payload plain; at it, RSV1 is set; both decode."""
    client = await raw_connect(server.port, "/z", OFFER)
    assert client.status == 101
    assert client.headers["sec-websocket-extensions"] == "permessage-deflate"
    inflater = zlib.decompressobj(-15)
    request(client, size=THRESHOLD - 1)
    small = await client.read_data_frame()
    assert (small.rsv1, small.opcode, small.payload) == (False, OP_TEXT, b"a" * 99)
    noise = os.urandom(300).hex()
    sizes = []
    for size, fill in [(THRESHOLD, "a"), (3000, noise), (3000, noise)]:
        request(client, size=size, fill=fill)
        frame = await client.read_data_frame()
        assert frame.rsv1 and frame.opcode == OP_TEXT and len(frame.payload) < size
        assert inflate(inflater, frame.payload) == (fill * size)[:size].encode()
        sizes.append(len(frame.payload))
    # Context takeover: the repeated message refers back to the first one.
    assert sizes[2] < sizes[1] / 4, sizes
    request(client, size=3000, binary=True)
    binary = await client.read_data_frame()
    assert binary.rsv1 and binary.opcode == OP_BINARY
    assert inflate(inflater, binary.payload) == b"a" * 3000
    await client.close()


async def test_compressed_messages_from_the_client_are_inflated(server: RunningServer) -> None:
    """A client's RSV1 message reaches on_message inflated."""
    client = await raw_connect(server.port, "/z", OFFER)
    deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
    text = json.dumps({"echo": "hello " * 50}).encode()
    compressed = deflater.compress(text) + deflater.flush(zlib.Z_SYNC_FLUSH)
    client.send_frame(OP_TEXT, compressed.removesuffix(DEFLATE_TAIL), rsv1=True)
    reply = await client.read_data_frame()
    assert reply.rsv1
    assert json.loads(inflate(zlib.decompressobj(-15), reply.payload)) == {"echo": "hello " * 50}
    await client.close()


async def test_no_context_takeover_and_window_bits_are_honoured(server: RunningServer) -> None:
    """With server_no_context_takeover each message inflates alone, within the agreed window."""
    offer = "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
    client = await raw_connect(server.port, "/z", {"Sec-WebSocket-Extensions": offer})
    agreed = client.headers["sec-websocket-extensions"]
    assert "server_no_context_takeover" in agreed and "server_max_window_bits=10" in agreed
    body = ("0123456789abcdef" * 200)[:3000]
    for _ in range(3):
        request(client, size=3000, fill="0123456789abcdef")
        frame = await client.read_data_frame()
        assert frame.rsv1
        assert inflate(zlib.decompressobj(-10), frame.payload) == body.encode()
    await client.close()


async def test_broadcast_is_compressed_only_for_compressing_recipients(
    server: RunningServer,
) -> None:
    """One broadcast reaches a compressing client as RSV1 and a plain one as RSV1-clear frames."""
    compressing = await raw_connect(server.port, "/z", OFFER)
    plain = await raw_connect(server.port, "/z")
    assert "sec-websocket-extensions" not in plain.headers
    await asyncio.sleep(0.05)
    request(plain, broadcast=500)
    for client, rsv1 in ((compressing, True), (plain, False)):
        frame = await client.read_data_frame()
        assert frame.rsv1 is rsv1
        payload = inflate(zlib.decompressobj(-15), frame.payload) if rsv1 else frame.payload
        assert payload == b"b" * 500
    request(plain, broadcast=10)
    small = await compressing.read_data_frame()
    assert (small.rsv1, small.payload) == (False, b"b" * 10)
    await compressing.close()
    await plain.close()


async def test_disabled_compression_negotiates_nothing(server: RunningServer) -> None:
    """With enabled: false an offer gets no extension and large messages go plain."""
    client = await raw_connect(server.port, "/plain", OFFER)
    assert client.status == 101 and "sec-websocket-extensions" not in client.headers
    request(client, size=5000)
    frame = await client.read_data_frame()
    assert (frame.rsv1, frame.payload) == (False, b"a" * 5000)
    await client.close()


async def test_inflated_size_obeys_max_message_size(server: RunningServer) -> None:
    """A compressed message inflating past max_message_size closes with 1009 (no bomb)."""
    client = await raw_connect(server.port, "/z", OFFER)
    for size in (1000, 1_000_000):
        deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
        text = b'"' + b"0" * (size - 2) + b'"'
        compressed = deflater.compress(text) + deflater.flush(zlib.Z_SYNC_FLUSH)
        assert len(compressed) < 2000
        client.send_frame(OP_TEXT, compressed.removesuffix(DEFLATE_TAIL), rsv1=True)
        if size == 1000:
            echoed = await client.read_data_frame()
            assert len(inflate(zlib.decompressobj(-15), echoed.payload)) == 998
    close = await client.read_data_frame()
    assert close.opcode == OP_CLOSE and close.close_code == 1009
    await asyncio.sleep(0.1)
    assert server.server.endpoints[0].handler.module.CLOSED[0][0] == 1009
    await client.close()


async def test_aiohttp_and_websockets_clients_read_both_kinds(server: RunningServer) -> None:
    """Real client libraries negotiate deflate and read plain and compressed messages alike."""
    client = await server.connect("/z", compress=15)
    assert client.socket.compress == 15
    url = server.url("/z")
    async with websockets.connect(url) as other:
        assert other.protocol.extensions, "websockets negotiated no extension"
        for size in (10, 5000, 10, 5000):
            await client.send({"size": size})
            assert await client.receive() == "a" * size
            await other.send(json.dumps({"size": size}))
            assert await other.recv() == "a" * size


def test_forget_keeps_the_stream_decodable() -> None:
    """After a dropped frame, later frames refer to nothing the client did not see."""
    deflater = Deflater(threshold=0)
    inflater = zlib.decompressobj(-15)
    assert inflate(inflater, deflater.compress(b"hello world " * 20)) == b"hello world " * 20
    deflater.compress(b"never sent " * 20)
    deflater.forget()
    assert inflate(inflater, deflater.compress(b"never sent " * 20)) == b"never sent " * 20
    assert inflate(inflater, deflater.compress(b"")) == b""
    with pytest.raises(ValueError, match="between 9 and 15"):
        Deflater(threshold=0, window_bits=8)


async def test_aiohttp_client_without_compression(server: RunningServer) -> None:
    """A client that offers no extension gets every message plain."""
    client = await server.connect("/z", compress=0)
    assert client.socket.compress == 0
    await client.send({"size": 5000})
    assert await client.receive() == "a" * 5000
    assert isinstance(client.socket, aiohttp.ClientWebSocketResponse)
