"""One connection as handlers see it, over real sockets (mockws/hub/connection.py)."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from mockws.testing import RunningServer, run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint, eventually, handler_module
from ..rawws import OP_CLOSE, OP_TEXT, RawClient

CONTROL_HANDLER = '''
"""Ends its connection as each message asks, and logs what the connection reports."""
LOG = []


async def on_message(conn, data):
    op = data["op"]
    if op == "fail":
        for n in range(data["queued"]):
            await conn.send({"n": n})
        first = conn.fail(data["code"], data["reason"])
        LOG.append(("fail", first, conn.fail(4999, "again"), await conn.send("late")))
    elif op == "abort":
        conn.abort()
    elif op == "record":
        conn.record_close(4001, "first")
        conn.record_close(4002, "second")
        await conn.send({"code": conn.close_code, "reason": conn.close_reason})


async def on_close(conn, code, reason):
    LOG.append(("close", code, reason, conn.closed, await conn.send("after close")))
'''


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("commands.py", COMMAND_HANDLER)
    write("closing_handler.py", CONTROL_HANDLER)
    config = {"endpoints": [endpoint("/c", "commands.py"), endpoint("/x", "closing_handler.py")]}
    async with run_server(config, base_dir=write("x.txt", "").parent) as running:
        yield running


def control_log() -> list[tuple[Any, ...]]:
    return handler_module("closing_handler").LOG  # type: ignore[no-any-return]


async def test_setting_user_id_moves_the_connection_between_users(server: RunningServer) -> None:
    """Assigning conn.user_id re-indexes send_to_user: the old user no longer reaches it."""
    ann, bob = await server.connect("/c"), await server.connect("/c")
    assert await command(bob, op="send_to_user", user="u1", data="nobody") == 0
    await command(ann, op="set_user", user="u1")
    assert await command(bob, op="send_to_user", user="u1", data="one") == 1
    assert await ann.receive() == "one"
    await command(ann, op="set_user", user="u2")
    assert await command(bob, op="send_to_user", user="u1", data="old") == 0
    assert await command(bob, op="send_to_user", user="u2", data="two") == 1
    assert await ann.receive() == "two"
    await command(ann, op="set_user", user=None)
    assert await command(bob, op="send_to_user", user="u2", data="gone") == 0
    await ann.expect_no_message()


async def test_two_connections_of_one_user_are_both_reached(server: RunningServer) -> None:
    """send_to_user reaches every connection of the user, on any endpoint, and no other."""
    ann, ann_again, bob = [await server.connect("/c") for _ in range(3)]
    await command(ann, op="set_user", user="ann")
    await command(ann_again, op="set_user", user="ann")
    await command(bob, op="set_user", user="bob")
    assert await command(bob, op="send_to_user", user="ann", data={"hi": "ann"}) == 2
    assert await ann.receive() == {"hi": "ann"}
    assert await ann_again.receive() == {"hi": "ann"}
    await bob.expect_no_message()


async def test_rooms_reflect_hub_membership(server: RunningServer) -> None:
    """conn.rooms lists the rooms the hub has the connection in, and is empty after leaving."""
    client = await server.connect("/c")
    conn_id = (await command(client, op="info"))["id"]  # type: ignore[index]
    conn = server.hub.get(conn_id)
    assert conn is not None and conn.rooms == frozenset()
    await command(client, op="join", room="a")
    await command(client, op="join", room="b")
    info = await command(client, op="info")
    assert info["rooms"] == ["a", "b"]  # type: ignore[index]
    assert info["hub_rooms"] == {"a": [conn_id], "b": [conn_id]}  # type: ignore[index]
    assert conn.rooms == frozenset({"a", "b"}) == server.hub.rooms_of(conn)
    await command(client, op="leave", room="a")
    await command(client, op="leave", room="b")
    assert conn.rooms == frozenset()
    assert dict(server.hub.rooms) == {}


async def test_fail_sends_close_after_queued_frames(server: RunningServer) -> None:
    """fail() sends its close frame after every frame queued before it; on_close sees its code."""
    client = await RawClient.upgrade(server.port, "/x")
    try:
        client.send_json({"op": "fail", "queued": 50, "code": 4100, "reason": "too slow"})
        frames = [await client.read_frame() for _ in range(51)]
        assert [f.opcode for f in frames] == [OP_TEXT] * 50 + [OP_CLOSE]
        assert [f.json() for f in frames[:50]] == [{"n": n} for n in range(50)]
        assert frames[50].payload == struct.pack("!H", 4100) + b"too slow"
        assert await client.at_eof()
    finally:
        await client.close()
    await eventually(lambda: len(control_log()) == 2)
    # The second fail() and every later send are refused.
    assert control_log() == [("fail", True, False, False), ("close", 4100, "too slow", True, False)]


async def test_record_close_keeps_the_first_code(server: RunningServer) -> None:
    """record_close keeps a close code already recorded; the client's close does not replace it."""
    client = await server.connect("/x")
    await client.send({"op": "record"})
    assert await client.receive() == {"code": 4001, "reason": "first"}
    await client.close(1000, "bye")
    await eventually(lambda: bool(control_log()))
    assert control_log() == [("close", 4001, "first", True, False)]


async def test_abort_drops_tcp_without_a_close_frame(server: RunningServer) -> None:
    """abort() drops the TCP connection: no close frame, the client and on_close see 1006."""
    raw = await RawClient.upgrade(server.port, "/x")
    try:
        raw.send_json({"op": "abort"})
        try:
            left = await asyncio.wait_for(raw.reader.read(), 5.0)
        except ConnectionResetError:
            left = b""
        assert left == b""
    finally:
        await raw.close()
    client = await server.connect("/x")
    await client.send({"op": "abort"})
    assert await client.expect_close() == (1006, "")
    await eventually(lambda: len(control_log()) == 2)
    assert control_log() == [("close", 1006, "", True, False)] * 2


async def test_send_on_a_closed_connection_returns_false(server: RunningServer) -> None:
    """Once the client has closed, conn.send queues nothing and returns False."""
    client = await server.connect("/x")
    await client.close(4321, "done")
    await eventually(lambda: bool(control_log()))
    assert control_log() == [("close", 4321, "done", True, False)]
