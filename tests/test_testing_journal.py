"""The test journal in mockws.testing: messages, expect_message, connected, client.messages."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from mockws.testing import run_server

from .helpers import WriteFile, endpoint

ROOMS = """
async def on_connect(conn):
    await conn.send({"type": "welcome", "id": conn.id})

async def on_message(conn, data):
    if isinstance(data, dict) and data.get("type") == "join":
        conn.join(data["room"])
        joined = {"type": "joined", "who": conn.id}
        await conn.broadcast(joined, rooms=[data["room"]], include_self=True)
    elif isinstance(data, bytes):
        await conn.send(data[::-1])
    else:
        await conn.send({"echo": data})
"""

COUNTER = """
CONNECTS = []

async def on_connect(conn):
    CONNECTS.append(conn.id)
    await conn.send({"count": len(CONNECTS)})
"""


@pytest.fixture
def config(write: WriteFile) -> dict[str, object]:
    write("rooms.py", ROOMS)
    return {"endpoints": [endpoint("/ws/rooms", "rooms.py"), endpoint("/ws/other", "rooms.py")]}


async def test_journal_records_every_message_in_and_out_per_connection(
    project: Path, config: dict[str, object]
) -> None:
    """In and out, text, JSON and binary, one out entry per broadcast recipient, in order."""
    async with run_server(config, base_dir=project) as server:
        alice = await server.connect("/ws/rooms")
        bob = await server.connect("/ws/rooms")
        for client in (alice, bob):
            await client.receive()
            await client.send({"type": "join", "room": "r"})
        await alice.send("plain")
        await alice.send(b"\x01\x02")
        await server.expect_message(b"\x01\x02")
        assert await alice.receive() == {"type": "joined", "who": "c1"}
        assert await alice.receive() == {"type": "joined", "who": "c2"}
        assert await alice.receive() == {"echo": "plain"}
        assert await alice.receive() == b"\x02\x01"

        c1 = [(entry.direction, entry.data) for entry in server.messages("c1")]
        assert c1 == [
            ("out", {"type": "welcome", "id": "c1"}),
            ("in", {"type": "join", "room": "r"}),
            ("out", {"type": "joined", "who": "c1"}),
            ("out", {"type": "joined", "who": "c2"}),
            ("in", "plain"),
            ("out", {"echo": "plain"}),
            ("in", b"\x01\x02"),
            ("out", b"\x02\x01"),
        ]
        c2_out = [entry.data for entry in server.messages("c2", direction="out")]
        assert c2_out == [{"type": "welcome", "id": "c2"}, {"type": "joined", "who": "c2"}]
        assert all(entry.endpoint == "/ws/rooms" for entry in server.messages())
        assert server.messages(endpoint="/ws/other") == []
        seqs = [entry.seq for entry in server.messages()]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_client_messages_holds_what_arrived_even_unread(
    project: Path, config: dict[str, object]
) -> None:
    """client.messages fills from a background reader, in order, before receive() is called."""
    async with run_server(config, base_dir=project) as server:
        client = await server.connect("/ws/rooms")
        for text in ("a", "b", "c"):
            await client.send(text)
        await server.expect_message({"echo": "c"}, direction="out")
        await asyncio.sleep(0.05)
        assert client.messages == [
            {"type": "welcome", "id": "c1"},
            {"echo": "a"},
            {"echo": "b"},
            {"echo": "c"},
        ]
        assert await client.receive() == {"type": "welcome", "id": "c1"}
        assert len(client.messages) == 4


async def test_expect_message_matches_predicate_subset_or_value_once_each(
    project: Path, config: dict[str, object]
) -> None:
    """A subset dict, a predicate, a plain value; a matched message is not matched twice."""
    async with run_server(config, base_dir=project) as server:
        client = await server.connect("/ws/rooms")
        await client.send({"type": "join", "room": "lobby", "meta": {"a": 1, "b": 2}})
        entry = await server.expect_message({"type": "join", "meta": {"a": 1}})
        assert entry.conn_id == "c1" and entry.direction == "in"
        await client.send({"n": 1})
        await client.send({"n": 2})
        first = await server.expect_message(lambda data: isinstance(data, dict) and "n" in data)
        second = await server.expect_message(lambda data: isinstance(data, dict) and "n" in data)
        assert (first.data, second.data) == ({"n": 1}, {"n": 2})
        with pytest.raises(TimeoutError, match="no 'in' message matching"):
            await server.expect_message({"n": 1}, timeout=0.2)
        later = asyncio.create_task(server.expect_message("late", timeout=3))
        await asyncio.sleep(0.1)
        assert not later.done()
        await client.send("late")
        assert (await later).data == "late"
        sent = await server.expect_message({"type": "joined"}, direction="out")
        assert sent.data == {"type": "joined", "who": "c1"}


async def test_connected_waits_for_each_connection_once(
    project: Path, config: dict[str, object]
) -> None:
    """connected() returns connections in order, by pattern or path, and times out."""
    async with run_server(config, base_dir=project) as server:
        waiting = asyncio.create_task(server.connected("/ws/other", timeout=3))
        await server.connect("/ws/rooms")
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await server.connect("/ws/other")
        conn = await waiting
        assert (conn.id, conn.endpoint) == ("c2", "/ws/other")
        assert (await server.connected()).id == "c1"
        with pytest.raises(TimeoutError, match="no connection to any endpoint"):
            await server.connected(timeout=0.2)


async def test_reset_closes_everything_and_can_rerun_handler_modules(
    project: Path, write: WriteFile
) -> None:
    """reset() empties hub and journal; fresh_modules gives the handler a clean module state."""
    write("counter.py", COUNTER)
    config = {"endpoints": [endpoint("/c", "counter.py")]}
    async with run_server(config, base_dir=project) as server:
        first = await server.connect("/c")
        assert await first.receive() == {"count": 1}
        await server.reset()
        assert first.closed and not server.hub.connections and server.messages() == []
        again = await server.connect("/c")
        assert await again.receive() == {"count": 2}  # the module kept its list
        await server.reset(fresh_modules=True)
        fresh = await server.connect("/c")
        assert await fresh.receive() == {"count": 1}


async def test_fresh_modules_at_start(project: Path, write: WriteFile) -> None:
    """Two servers in a row share module state unless fresh_modules is set."""
    write("counter.py", COUNTER)
    config = {"endpoints": [endpoint("/c", "counter.py")]}
    counts = []
    for fresh in (False, False, True):
        async with run_server(config, base_dir=project, fresh_modules=fresh) as server:
            client = await server.connect("/c")
            counts.append((await client.receive())["count"])
    assert counts == [1, 2, 1]
    sys.modules.pop("counter", None)
