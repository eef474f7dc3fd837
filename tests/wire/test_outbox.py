"""The frame-once, corked broadcast path, read as raw bytes (mockws/wire/outbox.py, Hub.deliver)."""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator

import pytest

from mockws.hub import connection as connection_module
from mockws.hub import hub as hub_module
from mockws.testing import RunningServer, run_server
from mockws.wire import frames as frames_module

from ..helpers import WriteFile, endpoint
from ..rawws import raw_connect

BURST_HANDLER = """
import asyncio


async def on_connect(conn):
    if conn.endpoint == "/r":
        conn.join("room")


async def on_message(conn, data):
    op = data["op"]
    if op == "broadcast":
        await conn.hub.broadcast(data["data"], rooms="room")
    elif op == "burst":
        for seq in range(data["n"]):
            await conn.hub.broadcast({"seq": seq, "pad": "x" * data["pad"]}, rooms="room")
            if seq % 7 == 0:
                await conn.send({"direct": seq})
            if seq % 100 == 99:
                await asyncio.sleep(0)  # let the per-iteration flush run mid-burst
    await conn.send({"done": op})
"""


def compact(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("burst.py", BURST_HANDLER)
    # No slow-client close here: these tests look at the outbox bound alone
    # (tests/wire/test_slowclient.py covers the 1008 close).
    patient = {
        "slow_client_timeout": 0,
        "slow_client_max_dropped": 0,
        "on_backpressure": "drop_newest",
    }
    config = {"endpoints": [endpoint("/r", "burst.py", limits=patient), endpoint("/s", "burst.py")]}
    async with run_server(config, base_dir=write("x.txt", "").parent) as running:
        yield running


async def members(server: RunningServer, count: int) -> None:
    """Wait until ``count`` connections have joined the room."""
    for _ in range(200):
        if len(server.hub.rooms.get("room", ())) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"room never reached {count} members")


async def test_broadcast_frames_are_byte_identical_and_well_formed(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broadcast is framed once, and every recipient gets those same bytes: one valid,
    final, unmasked frame."""
    built: list[bytes] = []

    def counting_build_frame(opcode: int, payload: bytes, **options: bool) -> bytes:
        built.append(payload)
        return frames_module.build_frame(opcode, payload, **options)

    monkeypatch.setattr(hub_module, "build_frame", counting_build_frame)
    monkeypatch.setattr(connection_module, "build_frame", counting_build_frame)
    clients = [await raw_connect(server.port, "/r") for _ in range(3)]
    sender = await raw_connect(server.port, "/s")
    await members(server, 3)
    values: list[object] = [{"a": 1}, "é" * 150, {"big": "y" * 70_000}, [1, None, True]]
    for value in values:
        sender.send_json({"op": "broadcast", "data": value})
        assert (await sender.read_frame()).json() == {"done": "broadcast"}
        frames = [await client.read_frame() for client in clients]
        expected = value.encode() if isinstance(value, str) else compact(value)
        assert {frame.raw for frame in frames} == {frames[0].raw}
        first = frames[0]
        assert (first.fin, first.rsv1, first.opcode) == (True, False, 0x1)
        assert first.payload == expected
        assert built.count(expected) == 1
    for client in [*clients, sender]:
        await client.close()


async def test_burst_keeps_per_connection_order(server: RunningServer) -> None:
    """Under a burst, each client sees broadcasts and direct sends in the order they were made."""
    reader = await raw_connect(server.port, "/r")
    sender = await raw_connect(server.port, "/r")
    await members(server, 2)
    count = 3000
    sender.send_json({"op": "burst", "n": count, "pad": 40})
    expected_sender: list[object] = []
    for seq in range(count):
        expected_sender.append(seq)
        if seq % 7 == 0:
            expected_sender.append(("direct", seq))
    expected_sender.append("done")

    def label(message: dict[str, object]) -> object:
        if "direct" in message:
            return ("direct", message["direct"])
        return "done" if "done" in message else message["seq"]

    got_sender = [label((await sender.read_frame()).json()) for _ in expected_sender]
    got_reader = [(await reader.read_frame()).json()["seq"] for _ in range(count)]
    assert got_sender == expected_sender
    assert got_reader == list(range(count))
    await reader.close()
    await sender.close()


async def test_client_that_reads_nothing_is_bounded_by_high_water(server: RunningServer) -> None:
    """100,000 broadcasts toward a stalled client: its buffer stays under the high-water
    mark, the excess is dropped whole, and what it later reads is in order."""
    stalled = await raw_connect(server.port, "/r", receive_buffer=4096)
    sender = await raw_connect(server.port, "/s")
    await members(server, 1)
    (conn,) = server.hub.rooms["room"]
    count, pad = 100_000, 200
    sender.send_json({"op": "burst", "n": count, "pad": pad})
    # The sender is not in the room: it gets only direct sends, then "done".
    while "done" not in (await sender.read_frame(timeout=30)).json():
        pass
    frame_size = len(compact({"seq": count, "pad": "x" * pad})) + 4
    outbox = conn._outbox
    assert conn.dropped > 0
    assert outbox.buffered <= outbox.high_water + frame_size
    frames = await stalled.frames_until_quiet()
    seqs = [frame.json()["seq"] for frame in frames]
    assert len(seqs) == count - conn.dropped
    assert seqs == sorted(set(seqs))
    await stalled.close()
    await sender.close()


async def test_compressed_connection_gets_its_own_frames(write: WriteFile) -> None:
    """On a compressed endpoint, a client that negotiated permessage-deflate gets an RSV1
    frame that inflates to the message, while a plain client gets the plain frame."""
    write("burst.py", BURST_HANDLER)
    compressed = endpoint("/r", "burst.py", compression={"enabled": True, "threshold": 0})
    config = {"endpoints": [compressed, endpoint("/s", "burst.py")]}
    async with run_server(config, base_dir=write("x.txt", "").parent) as running:
        deflate = await raw_connect(
            running.port,
            "/r",
            {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"},
        )
        plain = await raw_connect(running.port, "/r")
        sender = await raw_connect(running.port, "/s")
        assert "permessage-deflate" in deflate.headers.get("sec-websocket-extensions", "")
        await members(running, 2)
        value = {"text": "compressible " * 200}
        sender.send_json({"op": "broadcast", "data": value})
        plain_frame, deflate_frame = await plain.read_frame(), await deflate.read_frame()
        assert not plain_frame.rsv1 and plain_frame.payload == compact(value)
        assert deflate_frame.rsv1
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        assert inflater.decompress(deflate_frame.payload + b"\x00\x00\xff\xff") == compact(value)
        for client in (deflate, plain, sender):
            await client.close()
