"""Rooms, broadcast and send_to_user over real sockets (mockws/hub/hub.py)."""

from __future__ import annotations

import asyncio

import pytest

from mockws.testing import MockClient, RunningServer, run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint

NOTHING_WINDOW = 0.2


async def nothing_arrives(client: MockClient) -> bool:
    try:
        await client.receive(timeout=NOTHING_WINDOW)
    except TimeoutError:
        return True
    return False


@pytest.fixture
async def server(write: WriteFile) -> RunningServer:
    write("commands.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/a", "commands.py"), endpoint("/b/{name}", "commands.py")]}
    async with run_server(config, base_dir=write("x.txt", "").parent) as running:
        yield running


async def test_room_broadcast_excludes_sender_by_default(server: RunningServer) -> None:
    """A room broadcast reaches the other members, not the sender or non-members."""
    ann, bob, cid, dan = [await server.connect("/a") for _ in range(4)]
    for client in (ann, bob, cid):
        await command(client, op="join", room="lobby")
    assert await command(ann, op="broadcast", data={"hi": 1}, rooms=["lobby"]) == 2
    assert await bob.receive_json() == {"hi": 1}
    assert await cid.receive_json() == {"hi": 1}
    assert await nothing_arrives(ann)
    assert await nothing_arrives(dan)


async def test_include_self_reaches_sender(server: RunningServer) -> None:
    """include_self=True delivers the broadcast to the sender too."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    await command(ann, op="join", room="r")
    await command(bob, op="join", room="r")
    await ann.send({"op": "broadcast", "data": "x", "rooms": ["r"], "include_self": True})
    assert await ann.receive() == "x"
    assert (await ann.receive_json())["result"] == 2
    assert await bob.receive() == "x"


async def test_member_of_two_rooms_receives_once(server: RunningServer) -> None:
    """A connection in both target rooms gets a two-room broadcast exactly once."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    await command(bob, op="join", room="r1")
    await command(bob, op="join", room="r2")
    assert await command(ann, op="broadcast", data=[1], rooms=["r1", "r2"]) == 1
    assert await bob.receive_json() == [1]
    assert await nothing_arrives(bob)


async def test_broadcast_without_rooms_stays_on_endpoint(server: RunningServer) -> None:
    """Without rooms, conn.broadcast reaches the sender's endpoint only."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    other = await server.connect("/b/x")
    assert await command(ann, op="broadcast", data="e") == 1
    assert await bob.receive() == "e"
    assert await nothing_arrives(other)


async def test_hub_broadcast_exclude_and_endpoint(server: RunningServer) -> None:
    """hub.broadcast reaches all by default, and honours exclude and endpoint."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    other = await server.connect("/b/x")
    bob_id = (await command(bob, op="info"))["id"]  # type: ignore[index]
    await ann.send({"op": "hub_broadcast", "data": "all"})
    for client in (ann, bob, other):
        assert await client.receive() == "all"
    assert (await ann.receive_json())["result"] == 3
    assert await command(ann, op="hub_broadcast", data="b", endpoint="/b/{name}") == 1
    assert await other.receive() == "b"
    await ann.send({"op": "hub_broadcast", "data": "not bob", "exclude": bob_id})
    assert await ann.receive() == "not bob"
    assert (await ann.receive_json())["result"] == 2
    assert await other.receive() == "not bob"
    assert await nothing_arrives(bob)


async def test_send_to_user_reaches_every_connection_of_that_user(server: RunningServer) -> None:
    """send_to_user reaches each connection whose user_id matches."""
    ann1, ann2, bob = [await server.connect("/a") for _ in range(3)]
    await command(ann1, op="set_user", user="ann")
    await command(ann2, op="set_user", user="ann")
    await command(bob, op="set_user", user="bob")
    await bob.send({"op": "send_to_user", "user": "ann", "data": {"dm": 1}})
    assert await ann1.receive_json() == {"dm": 1}
    assert await ann2.receive_json() == {"dm": 1}
    assert (await bob.receive_json())["result"] == 2


async def test_join_leave_idempotent_and_rooms_emptied_on_close(server: RunningServer) -> None:
    """Joining twice is one membership; closing removes the connection from every room."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    await command(ann, op="join", room="r")
    await command(ann, op="join", room="r")
    await command(ann, op="join", room="s")
    await command(bob, op="join", room="r")
    info = await command(bob, op="info")
    assert info["hub_rooms"] == {
        "r": sorted([info["id"], (await command(ann, op="info"))["id"]]),  # type: ignore[index]
        "s": [(await command(ann, op="info"))["id"]],
    }  # type: ignore[index]
    await command(ann, op="leave", room="s")
    await command(ann, op="leave", room="s")
    await ann.close()
    for _ in range(50):
        info = await command(bob, op="info")
        if info["hub_rooms"] == {"r": [info["id"]]}:  # type: ignore[index]
            break
        await asyncio.sleep(0.02)
    assert info["hub_rooms"] == {"r": [info["id"]]}  # type: ignore[index]
    assert info["connections"] == [info["id"]]  # type: ignore[index]
    await bob.close()
    for _ in range(50):
        if not server.hub.connections and not server.hub.rooms:
            break
        await asyncio.sleep(0.02)
    assert dict(server.hub.rooms) == {} and dict(server.hub.connections) == {}


async def test_closed_connections_are_skipped(server: RunningServer) -> None:
    """A broadcast counts only connections it could queue for."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    await command(ann, op="join", room="r")
    await command(bob, op="join", room="r")
    bob_conn = server.hub.get((await command(bob, op="info"))["id"])  # type: ignore[index]
    assert bob_conn is not None
    closing = asyncio.create_task(bob_conn.close(4000, "bye"))
    await asyncio.sleep(0)
    assert bob_conn.closed
    assert await command(ann, op="broadcast", data="x", rooms=["r"]) == 0
    assert await bob.expect_close() == (4000, "bye")
    await closing


async def test_hub_views_are_read_only(server: RunningServer) -> None:
    """hub.connections and hub.rooms cannot be changed by handlers."""
    ann = await server.connect("/a")
    await command(ann, op="join", room="r")
    with pytest.raises(TypeError):
        server.hub.connections["x"] = None  # type: ignore[index]
    members = server.hub.rooms["r"]
    assert isinstance(members, frozenset) and len(members) == 1


async def test_fresh_connection_has_no_rooms_and_can_leave_any(server: RunningServer) -> None:
    """A new connection has no rooms and an empty query; leaving an unjoined room is a no-op."""
    ann, bob = await server.connect("/a"), await server.connect("/a")
    await command(ann, op="leave", room="never")
    info = await command(ann, op="info")
    assert info["rooms"] == [] and info["query"] == {}  # type: ignore[index]
    await command(ann, op="join", room="r")
    await command(bob, op="join", room="r")
    assert (await command(ann, op="info"))["rooms"] == ["r"]  # type: ignore[index]
    assert (await command(bob, op="info"))["rooms"] == ["r"]  # type: ignore[index]
