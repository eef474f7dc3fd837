"""Clients that stop reading: bounded buffers, 1008 closes, others unaffected."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint, eventually, handler_module
from ..rawws import RawClient, upgrade_request

CHAT = """
CLOSED = []


async def on_connect(conn):
    conn.join("chat")


async def on_message(conn, data):
    await conn.broadcast(data, rooms="chat")


async def on_close(conn, code, reason):
    CLOSED.append((conn.id, code, reason))
"""

HIGH_WATER = 64 * 1024
PAD = "x" * 16 * 1024
MAX_MESSAGES = 3000


async def stalled_client(port: int, path: str) -> RawClient:
    """Upgrade with a tiny receive buffer, then never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**16)
    client = RawClient(reader, writer)
    writer.write(upgrade_request(path, port))
    assert (await client.read_head()).startswith("HTTP/1.1 101")
    return client


@asynccontextmanager
async def stalled_chat(
    write: WriteFile, max_dropped: int, timeout: float
) -> AsyncIterator[tuple[RunningServer, RawClient, Any]]:
    """A chat server with one client that never reads; yields it and its server connection."""
    base: Path = write("slow_chat.py", CHAT).parent
    limits = {
        "send_high_water": HIGH_WATER,
        "slow_client_max_dropped": max_dropped,
        "slow_client_timeout": timeout,
        "on_backpressure": "drop_newest",
    }
    config = {"endpoints": [endpoint("/chat", "slow_chat.py", limits=limits)]}
    async with run_server(config, base_dir=base) as server:
        stalled = await stalled_client(server.port, "/chat")
        await eventually(lambda: len(server.hub.connections) == 1)
        yield server, stalled, next(iter(server.hub.connections.values()))


async def chat_until(
    server: RunningServer, done: Any, latencies: list[float], buffered: list[int]
) -> int:
    """Two clients chat through the room until ``done()``; record latency and the stall's buffer."""
    first = await server.connect("/chat")
    second = await server.connect("/chat")
    stalled = next(conn for conn in server.hub.connections.values() if conn.messages_out == 0)
    sent = 0
    while not done() and sent < MAX_MESSAGES:
        sender, receiver = (first, second) if sent % 2 == 0 else (second, first)
        await sender.send({"at": time.perf_counter(), "pad": PAD})
        message = await receiver.receive_json()
        latencies.append(time.perf_counter() - message["at"])
        buffered.append(stalled._outbox.buffered)
        sent += 1
    return sent


async def test_stalled_client_is_closed_1008_after_max_dropped(
    write: WriteFile, raw_clients: object
) -> None:
    """A client that never reads is capped at the high-water mark, then closed with 1008."""
    async with stalled_chat(write, 20, 0) as (server, stalled, conn):
        latencies: list[float] = []
        buffered: list[int] = []
        sent = await chat_until(server, lambda: conn.closed, latencies, buffered)
        assert conn.closed, f"still open after {sent} messages"
        assert conn.dropped == 20 and conn.close_code == 1008
        # The server holds at most the high-water mark plus the one frame that crossed it.
        assert max(buffered) <= HIGH_WATER + len(PAD) + 100
        assert await stalled.read_close() == 1008
        closed = handler_module("slow_chat").CLOSED
        await eventually(lambda: len(closed) == 1)
        assert closed[0][1:] == (1008, "Client too slow: 20 messages dropped")
        # The chatters never waited on the stalled client.
        assert statistics.median(latencies) < 0.05 and max(latencies) < 0.5, latencies


async def test_client_behind_for_too_long_is_closed_1008(
    write: WriteFile, raw_clients: object
) -> None:
    """A client over the high-water mark for slow_client_timeout seconds is closed with 1008."""
    async with stalled_chat(write, 0, 0.3) as (server, stalled, conn):
        first_drop: list[float] = []

        def done() -> bool:
            if conn.dropped and not first_drop:
                first_drop.append(time.monotonic())
            return conn.closed

        await chat_until(server, done, [], [])
        assert conn.closed and conn.close_code == 1008
        assert time.monotonic() - first_drop[0] >= 0.25
        assert conn.close_reason.startswith("Client too slow: behind for ")
        assert await stalled.read_close() == 1008


async def test_no_limits_keeps_a_stalled_client_open_but_bounded(
    write: WriteFile, raw_clients: object
) -> None:
    """With both slow-client limits off, the stalled client stays open and its buffer capped."""
    async with stalled_chat(write, 0, 0) as (server, stalled, conn):
        buffered: list[int] = []
        await chat_until(server, lambda: conn.dropped >= 100, [], buffered)
        assert conn.dropped >= 100 and not conn.closed
        assert max(buffered) <= HIGH_WATER + len(PAD) + 100
        await stalled.close()
        await eventually(lambda: conn.id not in server.hub.connections)


async def test_shutdown_drops_a_client_that_cannot_take_its_close(
    write: WriteFile, raw_clients: object, monkeypatch: Any
) -> None:
    """Stopping the server does not wait for a stalled client beyond the shutdown grace."""
    monkeypatch.setattr("mockws.server.app.SHUTDOWN_GRACE", 0.3)
    async with stalled_chat(write, 0, 0) as (server, _, conn):
        await chat_until(server, lambda: conn.dropped >= 10, [], [])
        started = time.monotonic()
        await server.server.stop()
        assert time.monotonic() - started < 3
        assert not server.hub.connections
