"""The delivery guarantee (API.md section 10) over real sockets.

A message that ``send`` or ``broadcast`` accepted reaches its client in order,
or the client is closed with a code that says why; the backpressure policies
drop only where the endpoint asks for it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from mockws.testing import RunningServer, run_server

from .helpers import WriteFile, endpoint, eventually
from .rawws import OP_CLOSE, RawClient, raw_connect

HANDLER = """
import asyncio


async def on_connect(conn):
    if conn.endpoint == "/room":
        conn.join("room")


async def on_message(conn, data):
    op = data.get("op") if isinstance(data, dict) else None
    if op == "burst":
        for seq in range(data["n"]):
            await conn.send({"seq": seq, "pad": "x" * data.get("pad", 0)})
        await conn.send({"done": data["n"]})
    elif op == "broadcast":
        started = asyncio.get_running_loop().time()
        reached = []
        for seq in range(data["n"]):
            message = {"seq": seq, "pad": "x" * data.get("pad", 0)}
            reached.append(await conn.hub.broadcast(message, rooms="room"))
            if data.get("pause"):
                await asyncio.sleep(data["pause"])
        elapsed = asyncio.get_running_loop().time() - started
        span = [min(reached), max(reached)]
        await conn.send({"done": data["n"], "elapsed": elapsed, "reached": span})
    elif op == "big":
        conn.state["big_sent"] = False
        await conn.hub.broadcast(b"b" * data["size"], rooms="room")
        conn.state["big_sent"] = True
        await conn.send({"done": "big"})
    else:
        await conn.send(data)
"""

HIGH_WATER = 64 * 1024


def config(base: Path, **limits: Any) -> dict[str, Any]:
    """An endpoint for senders (/s) and one whose connections join the room (/room)."""
    merged = {"send_high_water": HIGH_WATER, **limits}
    return {
        "endpoints": [
            endpoint("/s", "delivery.py", limits=merged),
            endpoint("/room", "delivery.py", limits=merged),
        ]
    }


async def read_seqs(client: Any, until: str = "done", timeout: float = 30) -> list[int]:
    """Read JSON messages until one with ``until``; return the ``seq`` values seen before it."""
    seqs = []
    async with asyncio.timeout(timeout):
        while True:
            message = await client.receive_json(timeout=timeout)
            if until in message:
                return seqs
            seqs.append(message["seq"])


async def read_n(client: Any, count: int, timeout: float = 30) -> list[int]:
    """Read ``count`` JSON messages; return their ``seq`` values."""
    async with asyncio.timeout(timeout):
        return [(await client.receive_json(timeout=timeout))["seq"] for _ in range(count)]


async def room_size(server: RunningServer, count: int) -> None:
    await eventually(lambda: len(server.hub.rooms.get("room", ())) == count, timeout=5)


async def test_a_burst_of_sends_reaches_a_healthy_reader_whole_and_in_order(
    write: WriteFile,
) -> None:
    """20,000 sends from a handler loop, 64 KiB mark: none dropped, in order, nothing closed."""
    base = write("delivery.py", HANDLER).parent
    async with run_server(config(base), base_dir=base) as server:
        client = await server.connect("/s")
        await client.send({"op": "burst", "n": 20_000, "pad": 100})
        seqs = await read_seqs(client)
        assert seqs == list(range(20_000))
        (conn,) = server.hub.connections.values()
        assert conn.dropped == 0 and not conn.closed


async def test_a_tight_self_send_loop_lets_other_connections_be_served(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """While one handler floods its own slow reader, another connection's echo is answered."""
    base = write("delivery.py", HANDLER).parent
    async with run_server(config(base), base_dir=base) as server:
        flooded = await raw_connect(server.port, "/s", receive_buffer=4096, reader_limit=2**16)
        flooded.send_json({"op": "burst", "n": 20_000, "pad": 1000})
        other = await server.connect("/s")
        await asyncio.sleep(0.2)
        latencies = []
        for i in range(5):
            started = time.monotonic()
            await other.send({"echo": i})
            assert await other.receive_json(timeout=5) == {"echo": i}
            latencies.append(time.monotonic() - started)
        # The flood is still going (its reader has not read anything yet) ...
        flooding = next(c for c in server.hub.connections.values() if c.messages_out > 5)
        assert flooding.messages_out < 20_001
        assert max(latencies) < 1.0, latencies
        # ... and when its reader reads, all of it arrives in order.
        seqs = []
        while True:
            frame = await flooded.read_data_frame(timeout=10)
            message = frame.json()
            if "done" in message:
                break
            seqs.append(message["seq"])
        assert seqs == list(range(20_000))


async def test_broadcast_waits_for_a_non_reader_then_closes_it_1008(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """Three readers get every broadcast; the non-reader is closed 1008 after its timeout."""
    base = write("delivery.py", HANDLER).parent
    async with run_server(config(base, slow_client_timeout=1), base_dir=base) as server:
        readers = [await server.connect("/room") for _ in range(3)]
        stalled = await raw_connect(server.port, "/room", receive_buffer=4096, reader_limit=2**16)
        await room_size(server, 4)
        sender = await server.connect("/s")
        count = 3000
        await sender.send({"op": "broadcast", "n": count, "pad": 4000})
        results = await asyncio.gather(*(read_n(reader, count) for reader in readers))
        for seqs in results:
            assert seqs == list(range(count))
        done = await sender.receive_json(timeout=30)
        # The non-reader held the broadcasts up for about its timeout, no more.
        assert 0.8 <= done["elapsed"] < 5, done
        assert done["reached"] == [3, 4], done
        # Its close frame is behind what it has not read; the socket is kept meanwhile.
        frames = []
        async with asyncio.timeout(5):
            while (frame := await stalled.read_frame()).opcode != OP_CLOSE:
                frames.append(frame.json()["seq"])
        assert frame.close_code == 1008
        assert frame.payload[2:].decode().startswith("Client too slow: behind for ")
        assert frames == list(range(len(frames)))


async def test_one_message_larger_than_the_mark_waits_like_any_other(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """An 8 MB broadcast to five non-readers: each transport holds at most the mark,
    the broadcast waits until they read it, and each then receives it whole."""
    base = write("delivery.py", HANDLER).parent
    async with run_server(config(base, slow_client_timeout=20), base_dir=base) as server:
        stalled = [
            await raw_connect(server.port, "/room", receive_buffer=4096, reader_limit=2**16)
            for _ in range(5)
        ]
        await room_size(server, 5)
        sender = await server.connect("/s")
        size = 8 * 1024 * 1024
        await sender.send({"op": "big", "size": size})
        await asyncio.sleep(0.5)
        (sending,) = [c for c in server.hub.connections.values() if c.endpoint == "/s"]
        assert sending.state["big_sent"] is False
        for conn in server.hub.rooms["room"]:
            # What the server holds for it is the shared frame, not a copy per transport.
            assert conn.request.transport.get_write_buffer_size() <= HIGH_WATER
        for client in stalled:
            frame = await client.read_data_frame(timeout=20)
            assert len(frame.payload) == size and frame.payload[:1] == b"b"
        assert await sender.receive_json(timeout=20) == {"done": "big"}
        assert sending.state["big_sent"] is True


async def test_drop_oldest_keeps_the_latest_values_and_counts_drops(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """A stalled ticker reader gets the newest messages once it reads; drops are counted
    and shown by the admin API (the inspector's Dropped column)."""
    base = write("delivery.py", HANDLER).parent
    cfg = config(base, on_backpressure="drop_oldest", slow_client_timeout=0)
    cfg["endpoints"][1]["compression"] = True
    async with run_server(cfg, base_dir=base) as server:
        stalled = await raw_connect(server.port, "/room", receive_buffer=4096, reader_limit=2**16)
        await room_size(server, 1)
        sender = await server.connect("/s")
        count = 2000
        await sender.send({"op": "broadcast", "n": count, "pad": 4000})
        done = await sender.receive_json(timeout=10)
        assert done["done"] == count and done["elapsed"] < 5
        (conn,) = server.hub.rooms["room"]
        assert conn.dropped > 0 and not conn.closed
        frames = await stalled.frames_until_quiet(quiet=1.0)
        seqs = [frame.json()["seq"] for frame in frames]
        assert seqs[-1] == count - 1
        assert seqs == sorted(seqs) and len(seqs) == count - conn.dropped
        async with aiohttp.ClientSession() as http:
            async with http.get(server.http_url("/__mockws/api/connections")) as response:
                listed = {item["id"]: item for item in (await response.json())["connections"]}
        assert listed[conn.id]["dropped"] == conn.dropped


async def test_drop_newest_keeps_the_oldest_and_counts_drops(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """Under drop_newest a stalled reader keeps the start of the stream; the rest is counted."""
    base = write("delivery.py", HANDLER).parent
    cfg = config(
        base, on_backpressure="drop_newest", slow_client_timeout=0, slow_client_max_dropped=0
    )
    async with run_server(cfg, base_dir=base) as server:
        stalled = await raw_connect(server.port, "/room", receive_buffer=4096, reader_limit=2**16)
        await room_size(server, 1)
        sender = await server.connect("/s")
        count = 2000
        await sender.send({"op": "broadcast", "n": count, "pad": 4000})
        done = await sender.receive_json(timeout=10)
        assert done["reached"][0] == 0  # dropped messages are not counted as reached
        (conn,) = server.hub.rooms["room"]
        frames = await stalled.frames_until_quiet(quiet=1.0)
        seqs = [frame.json()["seq"] for frame in frames]
        assert seqs == list(range(len(seqs))) and len(seqs) == count - conn.dropped
        assert conn.dropped > 0 and seqs[-1] < count - 1


async def test_close_policy_fails_a_client_as_soon_as_it_is_over_the_mark(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """Under close, the first message past the mark closes the stalled client with 1008."""
    base = write("delivery.py", HANDLER).parent
    async with run_server(config(base, on_backpressure="close"), base_dir=base) as server:
        stalled = await raw_connect(server.port, "/room", receive_buffer=4096, reader_limit=2**16)
        reader = await server.connect("/room")
        await room_size(server, 2)
        sender = await server.connect("/s")
        # The reader shares this event loop: the broadcaster pauses so that it can read.
        await sender.send({"op": "broadcast", "n": 500, "pad": 16000, "pause": 0.001})
        assert await read_n(reader, 500) == list(range(500))
        done = await sender.receive_json(timeout=10)
        assert done["elapsed"] < 5
        assert await stalled.read_close() == 1008
        await eventually(lambda: len(server.hub.connections) == 2)
