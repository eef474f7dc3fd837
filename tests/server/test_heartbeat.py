"""Heartbeat pings and timeouts over real sockets (mockws/server/session.py, aiohttp_compat.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockws.testing import MockClient, RunningServer, run_server

from ..helpers import WriteFile, endpoint, eventually

INTERVAL = 0.2
HANDLER = """
import asyncio
CLOSED = []

async def on_connect(conn):
    conn.join("lobby")

async def on_message(conn, data):
    if data == "slow":
        await asyncio.sleep(0.5)
    await conn.send(data)

async def on_close(conn, code, reason):
    CLOSED.append((code, reason, sorted(conn.rooms)))
"""


@pytest.fixture
async def server(project: Path, write: WriteFile) -> Any:
    """A server whose /hb endpoint pings every 0.2 s and /quiet endpoint never pings."""
    write("beating.py", HANDLER)
    config = {
        "endpoints": [
            endpoint("/hb", "beating.py", heartbeat=INTERVAL),
            endpoint("/quiet", "beating.py"),
        ]
    }
    async with run_server(config, base_dir=project) as running:
        yield running


def closed_calls(server: RunningServer) -> list[tuple[int, str, list[str]]]:
    return server.server.endpoints[0].handler.module.CLOSED  # type: ignore[no-any-return]


async def test_silent_peer_is_closed_with_heartbeat_timeout(server: RunningServer) -> None:
    """A client that never answers gets a PING after the interval, then is dropped; rooms clear."""
    client = await server.connect("/hb", autoping=False)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ping = await client.socket.receive(timeout=2)
    assert ping.type is aiohttp.WSMsgType.PING
    assert INTERVAL * 0.9 <= loop.time() - started < INTERVAL + 0.5
    assert server.hub.rooms["lobby"]
    end = await client.socket.receive(timeout=2)
    assert end.type is aiohttp.WSMsgType.CLOSED
    assert loop.time() - started < 2 * INTERVAL + 0.5
    await eventually(lambda: closed_calls(server) != [])
    assert closed_calls(server) == [(1006, "Heartbeat timeout", ["lobby"])]
    await eventually(lambda: not server.hub.connections)
    assert "lobby" not in server.hub.rooms


async def test_timeout_while_a_handler_is_busy_is_reported_the_same(server: RunningServer) -> None:
    """A peer that goes silent while on_message runs is still reported as a heartbeat timeout."""
    client = await server.connect("/hb", autoping=False)
    await client.send("slow")
    await eventually(lambda: closed_calls(server) != [], timeout=3)
    assert closed_calls(server) == [(1006, "Heartbeat timeout", ["lobby"])]


async def answer_pings(client: MockClient, seconds: float) -> tuple[int, aiohttp.WSMessage | None]:
    """Answer every PING for ``seconds``, or until a data message arrives.

    Returns:
        How many PINGs arrived, and the data message if one did.
    """
    pings = 0
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            message = await client.socket.receive(timeout=left)
        except TimeoutError:
            break
        if message.type is not aiohttp.WSMsgType.PING:
            return pings, message
        pings += 1
        await client.socket.pong(message.data)
    return pings, None


async def test_peer_that_answers_stays_connected(server: RunningServer) -> None:
    """Pings keep coming every interval while the client answers, and the connection stays."""
    client = await server.connect("/hb", autoping=False)
    pings, message = await answer_pings(client, 1.0)
    assert message is None and 3 <= pings <= 6
    await client.send("still here")
    _, reply = await answer_pings(client, 2.0)
    assert reply is not None and reply.data == "still here"
    assert closed_calls(server) == []


async def test_reading_client_with_autoping_stays_connected(server: RunningServer) -> None:
    """A client that reads (and so answers pings, as browsers do) outlives many intervals."""
    # aiohttp answers pings inside receive(), so this client must be reading, as a browser is.
    client = await server.connect("/hb")
    reply = asyncio.create_task(client.receive(timeout=3))
    await asyncio.sleep(5 * INTERVAL)
    await client.send("still here")
    assert await reply == "still here"
    assert closed_calls(server) == []


async def test_any_inbound_traffic_counts_as_alive(server: RunningServer) -> None:
    """A client that never answers pings but keeps sending is never pinged nor dropped."""
    client = await server.connect("/hb", autoping=False)
    for index in range(12):
        await client.send(f"m{index}")
        assert await client.receive(timeout=2) == f"m{index}"
        await asyncio.sleep(INTERVAL / 4)
    assert not client.closed and closed_calls(server) == []


async def test_no_heartbeat_sends_no_ping(server: RunningServer) -> None:
    """Without heartbeat the server stays quiet and never drops a silent client."""
    client = await server.connect("/quiet", autoping=False)
    with pytest.raises(TimeoutError):
        await client.socket.receive(timeout=3 * INTERVAL)
    assert not client.closed
