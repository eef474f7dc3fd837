"""A Socket.IO client as a hub connection (mockws/hub/sio_connection.py), on a fake channel."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request

from mockws.hub.hub import Hub
from mockws.hub.sio_connection import SioConnection


class Endpoint:
    pattern = "/socket.io/"

    def mask(self, path_qs: str) -> str:
        return path_qs


class Channel:
    """Records what the connection asks of its Socket.IO server."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, str, tuple[Any, ...]]] = []
        self.disconnects: list[tuple[str, str, bool]] = []
        self.dropped: list[str] = []
        self.flushes = 0

    def queue_emit(self, sid: str, namespace: str, event: str, args: tuple[Any, ...]) -> bool:
        self.emitted.append((sid, namespace, event, args))
        return True

    async def flush(self) -> None:
        self.flushes += 1

    async def call(
        self, sid: str, namespace: str, event: str, args: tuple[Any, ...], timeout: float
    ) -> Any:
        return ("acked", event, args)

    async def disconnect(self, sid: str, namespace: str, *, transport: bool) -> None:
        self.disconnects.append((sid, namespace, transport))

    def drop(self, sid: str) -> None:
        self.dropped.append(sid)

    def transport(self, sid: str) -> str | None:
        return "websocket"


def make(hub: Hub, channel: Channel, n: int, namespace: str = "/") -> SioConnection:
    conn = SioConnection(
        conn_id=f"c{n}",
        hub=hub,
        endpoint=Endpoint(),
        request=make_mocked_request("GET", "/socket.io/?EIO=4&transport=polling"),
        channel=channel,
        sid=f"s{n}",
        namespace=namespace,
        params={},
        query={},
    )
    hub.register(conn)
    return conn


async def test_emit_send_and_call_go_through_the_channel() -> None:
    """emit queues and flushes; send is the message event; call returns the client's ack."""
    hub, channel = Hub(), Channel()
    conn = make(hub, channel, 1)
    assert await conn.emit("news", 1, {"a": 2}) is True
    assert await conn.send("hello") is True
    assert channel.emitted == [
        ("s1", "/", "news", (1, {"a": 2})),
        ("s1", "/", "message", ("hello",)),
    ]
    assert channel.flushes == 2 and conn.messages_out == 2
    assert await conn.call("ask", 3) == ("acked", "ask", (3,))
    assert conn.transport == "websocket" and conn.dropped == 0


async def test_hub_fan_out_reaches_socketio_connections_in_their_namespace() -> None:
    """hub.emit filters by namespace; hub.broadcast of data arrives as the message event."""
    hub, channel = Hub(), Channel()
    root, admin = make(hub, channel, 1), make(hub, channel, 2, "/admin")
    assert await hub.emit("tick", 5, namespace="/admin") == 1
    assert channel.emitted == [("s2", "/admin", "tick", (5,))]
    channel.emitted.clear()
    assert await hub.broadcast({"plain": True}) == 2
    assert sorted(channel.emitted) == [
        ("s1", "/", "message", ({"plain": True},)),
        ("s2", "/admin", "message", ({"plain": True},)),
    ]
    channel.emitted.clear()
    root.join("red")
    admin.join("red")
    assert await root.broadcast("said", "hi", rooms=["red"]) == 0  # /admin is another namespace
    assert await root.broadcast("said", "hi", rooms=["red"], include_self=True) == 1
    assert channel.emitted == [("s1", "/", "said", ("hi",))]


async def test_acknowledge_only_while_an_event_waits() -> None:
    """begin_event/acknowledge/end_event: one ack per event, none outside one."""
    conn = make(Hub(), Channel(), 1)
    assert conn.acknowledge("late") is False
    conn.begin_event()
    assert conn.acknowledge({"ok": True}) is True
    assert conn.acknowledge("twice") is False
    assert conn.end_event() == {"ok": True}
    conn.begin_event()
    assert conn.end_event() is None


@pytest.mark.parametrize(
    ("code", "transport"), [(1000, False), (4000, False), (1001, True), (1012, True), (1013, True)]
)
async def test_close_codes_choose_namespace_or_session_disconnect(
    code: int, transport: bool
) -> None:
    """Restart-like codes end the Engine.IO session (clients reconnect); others the namespace."""
    channel = Channel()
    conn = make(Hub(), channel, 1)
    await conn.close(code, "why")
    await conn.close(1000, "again")
    assert channel.disconnects == [("s1", "/", transport)]
    assert (conn.close_code, conn.close_reason, conn.closed) == (code, "why", True)
    assert await conn.emit("after") is False
    assert channel.emitted == []


async def test_fail_and_abort_drop_the_session_once() -> None:
    """fail records its code and drops the session; a second fail or abort does nothing."""
    channel = Channel()
    conn = make(Hub(), channel, 1)
    assert conn.fail(1008, "limit") is True
    assert conn.fail(1008, "again") is False
    conn.abort()
    assert channel.dropped == ["s1"]
    assert (conn.close_code, conn.close_reason) == (1008, "limit")
