"""RedisBroker (mockws/hub/redis_broker.py): two servers in this process on one real redis-server.

Each server has its own RedisBroker, as two processes would; the tests
check what their clients receive, what the admin API lists, and what
happens when Redis goes away and comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockws.hub.broker import Publication
from mockws.hub.redis_broker import BrokerUnavailable, RedisBroker, _decode, _encode, node_of, probe
from mockws.testing import RunningServer, run_server
from mockws.wire.frames import Opcode

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint, eventually
from ..redisserver import RedisServer, free_port

RECOVERY = 15.0


@pytest.fixture
def project(write: WriteFile) -> Path:
    return write("commands.py", COMMAND_HANDLER).parent


@asynccontextmanager
async def cluster(
    project: Path, redis: RedisServer, count: int = 2, expiry: float = 3.0
) -> AsyncIterator[list[RunningServer]]:
    """``count`` COMMAND_HANDLER servers on /a and /b, each with its own RedisBroker."""
    config = {"endpoints": [endpoint("/a", "commands.py"), endpoint("/b", "commands.py")]}
    async with AsyncExitStack() as stack:
        servers = [
            await stack.enter_async_context(
                run_server(
                    config,
                    base_dir=project,
                    broker=RedisBroker(redis.url, expiry=expiry, node=f"n{index}"),
                )
            )
            for index in range(1, count + 1)
        ]
        yield servers


async def member(server: RunningServer, *rooms: str, path: str = "/a") -> Any:
    client = await server.connect(path)
    for room in rooms:
        await command(client, op="join", room=room)
    return client


async def admin(server: RunningServer, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.http_url(f"/__mockws/api/{path}"), json=body) as response,
    ):
        return response.status, await response.json()


async def listed(server: RunningServer, count: int, users: int = 0) -> None:
    """Wait until ``server``'s admin API lists ``count`` connections, ``users`` with a user.

    A node writes its registry after its subscriptions: once the registry
    shows a connection's rooms and user, broadcasts to them reach it.
    """

    async def connections() -> tuple[int, int]:
        _, body = await admin(server, "GET", "connections")
        views = body["connections"]
        return len(views), sum(1 for view in views if view["user"] is not None)

    for _ in range(200):
        if await connections() == (count, users):
            return
        await asyncio.sleep(0.025)
    assert await connections() == (count, users)


def test_messages_round_trip_through_the_wire_format() -> None:
    """A publication survives encoding with every filter; node_of reads the id's node."""
    publication = Publication(
        Opcode.BINARY,
        b"\x00\n\xff",
        rooms=("r", "s"),
        endpoint="/a",
        user="u",
        exclude=frozenset({"n1-c1"}),
        target="n2-c3",
    )
    assert _decode(_encode("n1", publication, "n1:7")) == (publication, "n1:7")
    assert node_of("w1-3fa2-c12") == "w1-3fa2"


async def test_a_room_broadcast_reaches_every_process_once(
    project: Path, redis_server: RedisServer
) -> None:
    """A broadcast from either server reaches the members on both, each exactly once."""
    async with cluster(project, redis_server) as (one, two):
        ann, bob = await member(one, "r"), await member(two, "r")
        outsider = await member(two, "other")
        await listed(one, 3)

        # No rooms: the sender's endpoint, /a, on every process; ann herself is left out.
        assert await command(ann, op="broadcast", data={"from": "ann"}) == 0
        assert await bob.receive_json() == {"from": "ann"}
        assert await outsider.receive_json() == {"from": "ann"}

        assert await command(bob, op="broadcast", data="to r", rooms=["r"]) == 0
        assert await ann.receive() == "to r"
        for client in (ann, bob, outsider):
            await client.expect_no_message(0.3)


async def test_a_broadcast_to_several_rooms_is_delivered_once_per_connection(
    project: Path, redis_server: RedisServer
) -> None:
    """A member of two of the listed rooms on the other process gets one copy, not two."""
    async with cluster(project, redis_server) as (one, two):
        sender, neighbour = await member(one), await member(one, "r", "t")
        both, only_s = await member(two, "r", "s"), await member(two, "s")
        await listed(one, 4)
        assert await command(sender, op="broadcast", data="x", rooms=["r", "s", "t"]) == 1
        assert await neighbour.receive() == "x"
        assert await both.receive() == "x"
        assert await only_s.receive() == "x"
        # The publisher's own copy comes back from Redis too: it is not delivered again.
        await neighbour.expect_no_message(0.3)
        await both.expect_no_message(0.1)
        await only_s.expect_no_message(0.1)
        await sender.expect_no_message(0.1)


async def test_the_inspector_feed_shows_every_process(
    project: Path, redis_server: RedisServer
) -> None:
    """The feed's snapshot lists the other process's connections and rooms."""
    async with cluster(project, redis_server) as (one, two):
        await member(one, "r")
        bob = await member(two, "r")
        bob_id = (await command(bob, op="info"))["id"]
        await listed(one, 2)
        async with aiohttp.ClientSession() as session:
            feed = await session.ws_connect(one.http_url("/__mockws/feed"))
            snapshot = await feed.receive_json(timeout=5)
            await feed.close()
        assert snapshot["type"] == "snapshot"
        assert bob_id in {conn["id"] for conn in snapshot["connections"]}
        assert bob_id in snapshot["rooms"][0]["members"]


async def test_send_to_user_and_endpoint_broadcasts_cross_processes(
    project: Path, redis_server: RedisServer
) -> None:
    """send_to_user finds the user's connections on the other process; /b stays out of /a's."""
    async with cluster(project, redis_server) as (one, two):
        sender = await member(one)
        carol_a, carol_b = await member(two), await member(two, path="/b")
        on_b = await member(one, path="/b")
        await command(carol_a, op="set_user", user="carol")
        await command(carol_b, op="set_user", user="carol")
        await listed(one, 4, users=2)

        assert await command(sender, op="send_to_user", user="carol", data="hi carol") == 0
        assert await carol_a.receive() == "hi carol"
        assert await carol_b.receive() == "hi carol"
        assert await command(sender, op="hub_broadcast", data="b only", endpoint="/b") == 1
        assert await carol_b.receive() == "b only"
        assert await on_b.receive() == "b only"
        await carol_a.expect_no_message(0.3)
        await sender.expect_no_message(0.1)


async def test_the_admin_api_lists_and_reaches_every_process(
    project: Path, redis_server: RedisServer
) -> None:
    """Connections and rooms are the union; send reaches another process's connection."""
    async with cluster(project, redis_server) as (one, two):
        ann, bob = await member(one, "r"), await member(two, "r", "s")
        ann_id = (await command(ann, op="info"))["id"]
        bob_id = (await command(bob, op="info"))["id"]
        assert ann_id.startswith("n1-c") and bob_id.startswith("n2-c")
        await listed(one, 2)

        _, body = await admin(one, "GET", "connections")
        views = {view["id"]: view for view in body["connections"]}
        assert set(views) == {ann_id, bob_id}
        assert views[bob_id]["worker"] == "n2" and views[ann_id]["worker"] == "n1"
        assert views[bob_id]["path"] == "/a" and views[bob_id]["rooms"] == ["r", "s"]
        _, body = await admin(one, "GET", "rooms")
        assert body["rooms"] == [
            {"name": "r", "members": sorted([ann_id, bob_id])},
            {"name": "s", "members": [bob_id]},
        ]
        status, body = await admin(one, "GET", f"connections/{bob_id}")
        assert status == 200 and body["id"] == bob_id

        status, body = await admin(one, "POST", f"connections/{bob_id}/send", {"data": {"k": 1}})
        assert (status, body) == (200, {"sent": True, "worker": "n2"})
        assert await bob.receive_json() == {"k": 1}
        status, body = await admin(one, "POST", "broadcast", {"data": "all", "rooms": ["r"]})
        assert (status, body) == (200, {"reached": 1})
        assert await ann.receive() == "all"
        assert await bob.receive() == "all"
        status, body = await admin(one, "POST", f"connections/{bob_id}/close", {"code": 4000})
        assert status == 409 and "n2" in body["error"]
        status, _ = await admin(one, "GET", "connections/n2-c999")
        assert status == 404

        await bob.close()
        await listed(one, 1)
        await ann.expect_no_message(0.1)


async def test_a_stopped_server_takes_its_entries_with_it(
    project: Path, redis_server: RedisServer
) -> None:
    """After stop() the node's registry key is gone at once, not after the expiry."""
    async with cluster(project, redis_server, count=1, expiry=60) as (one,):
        await member(one, "r")
        await eventually(lambda: redis_server.keys("mockws:conns:*") == ["mockws:conns:n1"])
    assert redis_server.keys("mockws:conns:*") == []


async def test_redis_going_away_mid_stream(
    project: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Local delivery goes on, one warning, and after Redis restarts (empty) rooms work again."""
    caplog.set_level(logging.WARNING, logger="mockws.broker")
    async with cluster(project, redis_server) as (one, two):
        ann, ann2, bob = await member(one, "r"), await member(one, "r"), await member(two, "r")
        await listed(one, 3)
        redis_server.kill()
        brokers = [one.hub.broker, two.hub.broker]
        assert all(isinstance(broker, RedisBroker) for broker in brokers)
        await eventually(lambda: not any(b.connected for b in brokers), timeout=5)  # type: ignore[attr-defined]

        for n in range(3):
            assert await command(ann, op="broadcast", data=n, rooms=["r"]) == 1
            assert await ann2.receive_json() == n
        await bob.expect_no_message(0.3)
        warnings = [r for r in caplog.records if "went away" in r.getMessage()]
        assert len(warnings) == 2, [r.getMessage() for r in caplog.records]  # one per server

        redis_server.start()
        await eventually(lambda: all(b.connected for b in brokers), timeout=RECOVERY)  # type: ignore[attr-defined]
        await eventually(lambda: len(redis_server.keys("mockws:conns:*")) == 2, timeout=RECOVERY)
        assert await command(ann, op="broadcast", data="again", rooms=["r"]) == 1
        assert await ann2.receive() == "again"
        assert await bob.receive() == "again"
        _, body = await admin(two, "GET", "rooms")
        assert len(body["rooms"][0]["members"]) == 3
        back = [r for r in caplog.records if "is back" in r.getMessage()]
        assert len(back) == 2 and "1 room(s) re-announced" in back[0].getMessage()


async def test_a_broker_that_does_not_answer_fails_the_start(project: Path) -> None:
    """start() gives up after its timeout with the URL (password masked) and the reason."""
    pytest.importorskip("redis")
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(BrokerUnavailable) as raised:
        async with run_server(
            {"endpoints": [endpoint("/a", "commands.py")]},
            base_dir=project,
            broker=RedisBroker(url),
        ):
            pass
    assert "does not answer" in str(raised.value)
    assert "hunter2" not in str(raised.value) and ":***@" in str(raised.value)
    with pytest.raises(BrokerUnavailable):
        await probe(url, timeout=1)


async def test_probe_names_the_server(redis_server: RedisServer) -> None:
    """probe() answers with the Redis version."""
    assert (await probe(redis_server.url)).startswith("redis ")


SIO_ROOMS = """
async def on_connect(conn, auth):
    conn.join("lobby")
"""


async def test_a_socketio_emit_crosses_processes_as_the_event(
    project: Path, redis_server: RedisServer
) -> None:
    """hub.emit on one process reaches Socket.IO clients of the other as that event."""
    from ..helpers import sio_base, sio_client

    (project / "sio.py").write_text(SIO_ROOMS, encoding="utf-8")
    config = {
        "endpoints": [{"pattern": "/socket.io/", "protocol": "socket.io", "handler": "sio.py"}]
    }
    async with AsyncExitStack() as stack:
        one, two = [
            await stack.enter_async_context(
                run_server(
                    config, base_dir=project, broker=RedisBroker(redis_server.url, node=f"s{i}")
                )
            )
            for i in (1, 2)
        ]
        far = await stack.enter_async_context(
            sio_client(sio_base(two.server.url("/socket.io/")), transports=["websocket"])
        )
        await eventually(lambda: bool(two.hub.rooms.get("lobby")), timeout=5)
        await asyncio.sleep(0.3)  # the room subscription's round trip
        await one.hub.emit("news", {"text": "hi"}, rooms="lobby")
        assert await far.next_event() == ("news", ({"text": "hi"},))


def test_an_emit_publication_survives_encoding() -> None:
    """The event, namespace and arguments cross; bytes cannot (the encoder refuses)."""
    emitted = Publication(
        Opcode.TEXT, b"", rooms=("r",), event="e", args=(1, {"a": 2}), namespace="/x"
    )
    decoded, message_id = _decode(_encode("n1", emitted, "m1"))
    assert (decoded.event, decoded.args, decoded.namespace, message_id) == (
        "e",
        (1, {"a": 2}),
        "/x",
        "m1",
    )
    with pytest.raises(TypeError):
        _encode("n1", Publication(Opcode.TEXT, b"", event="e", args=(b"\x00",)), None)
