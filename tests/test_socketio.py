"""Socket.IO endpoints over real sockets, driven by python-socketio's AsyncClient."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from mockws.config.load import config_from_mapping
from mockws.errors import ConfigError
from mockws.events import MessageIn, MessageOut
from mockws.testing import run_server

from .helpers import SioClient, WriteFile, endpoint, eventually, sio_base, sio_client

CHAT = """
from mockws import AuthResult

CONNECTS = []
CLOSES = []


async def on_connect(conn, auth):
    CONNECTS.append((conn.id, conn.namespace, auth, dict(conn.query), dict(conn.params)))
    name = (auth or {}).get("name")
    if name == "mallory":
        return AuthResult(False, code=4003, reason="mallory is banned")
    if name == "nobody":
        return False
    conn.state["name"] = name or conn.id
    if conn.user_id is None and name:
        conn.user_id = name


async def on_join(conn, room):
    conn.join(room)
    return sorted(conn.rooms)


async def on_leave(conn, room):
    conn.leave(room)


async def on_say(conn, text, rooms=None, include_self=False):
    return await conn.broadcast(
        "said", conn.state["name"], text, rooms=rooms, include_self=include_self
    )


async def on_echo(conn, *args):
    await conn.emit("echoed", *args)
    return args


async def on_boom(conn):
    raise RuntimeError("boom")


async def shout(conn, text):
    return text.upper()


EVENTS = {"shout it": shout}


async def on_event(conn, event, *args):
    return {"unhandled": event, "args": list(args)}


async def on_whoami(conn):
    return {"id": conn.id, "sid": conn.sid, "user": conn.user_id, "auth": conn.auth_data,
            "transport": conn.transport, "state": conn.state}


async def on_close(conn, reason):
    CLOSES.append((conn.id, reason, sorted(conn.rooms)))
"""


@pytest.fixture
def chat_config(write: WriteFile, project: Path) -> dict[str, Any]:
    write("sio_testchat.py", CHAT)
    return {
        "port": 0,
        "endpoints": [
            # A short heartbeat: a python-socketio client's disconnect waits for its
            # last long poll, which Engine.IO holds for up to ping_interval + ping_timeout.
            endpoint(
                "/socket.io/",
                "sio_testchat.py",
                protocol="socket.io",
                namespaces=["/", "/admin"],
                heartbeat=1,
            ),
            endpoint("/ws", "sio_testchat.py"),
        ],
    }


def module(name: str = "sio_testchat") -> Any:
    import sys

    return next(m for key, m in sys.modules.items() if key.endswith(name))


@pytest.mark.parametrize("transports", [["polling"], ["websocket"], None])
async def test_event_round_trip_and_ack_on_each_transport(
    chat_config: dict[str, Any], project: Path, transports: list[str] | None
) -> None:
    """Connect with auth, emit, get the event back and the ack, on polling, websocket and both."""
    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url + "?lang=en", auth={"name": "ann"}, transports=transports) as ann:
            assert await ann.call("echo", "hi", {"n": 1}) == ("hi", {"n": 1})
            assert await ann.next_event() == ("echoed", ("hi", {"n": 1}))
            who = await ann.call("whoami")
            expected = transports[0] if transports else "websocket"
            await eventually(lambda: ann.client.transport() == expected, 5)
            assert who["transport"] in (expected, "polling")
            assert who["user"] == "ann" and who["state"] == {"name": "ann"}
            assert who["sid"] == ann.client.get_sid("/")
        _, namespace, auth, query, params = module().CONNECTS[-1]
        assert (namespace, auth, query, params) == ("/", {"name": "ann"}, {"lang": "en"}, {})
        await eventually(lambda: len(module().CLOSES) == 1)
        assert module().CLOSES[0][2] == []


async def test_events_table_on_event_and_errors(chat_config: dict[str, Any], project: Path) -> None:
    """EVENTS names non-identifier events; on_event takes the rest; a raising hook acks nothing."""
    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url, auth={"name": "ann"}) as ann:
            assert await ann.call("shout it", "hey") == "HEY"
            assert await ann.call("no-such", 1, 2) == {"unhandled": "no-such", "args": [1, 2]}
            # "close" is a hook name, not an event handler: it goes to on_event.
            assert await ann.call("close", "x") == {"unhandled": "close", "args": ["x"]}
            assert await ann.call("boom") is None
            assert await ann.call("echo", "still here") == "still here"


async def test_rooms_broadcast_and_include_self(chat_config: dict[str, Any], project: Path) -> None:
    """Broadcast reaches the namespace, or a room's members; the sender only when asked."""
    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with (
            sio_client(url, auth={"name": "ann"}) as ann,
            sio_client(url, auth={"name": "bob"}) as bob,
            sio_client(url, auth={"name": "cat"}) as cat,
            sio_client(url, namespace="/admin", auth={"name": "root"}) as root,
        ):
            assert await ann.call("join", "red") == ["red"]
            assert await bob.call("join", "red") == ["red"]
            reached = await ann.call("say", "to red", ["red"])
            assert reached == 1
            assert await bob.next_event() == ("said", ("ann", "to red"))
            assert await ann.silent() and await cat.silent(0.05)
            assert await ann.call("say", "red again", ["red"], True) == 2
            assert await ann.next_event() == ("said", ("ann", "red again"))
            assert await bob.next_event() == ("said", ("ann", "red again"))
            # No rooms: every client of this endpoint in this namespace, not /admin's.
            assert await cat.call("say", "all") == 2
            assert await ann.next_event() == ("said", ("cat", "all"))
            assert await bob.next_event() == ("said", ("cat", "all"))
            assert await root.silent(0.1)
            rooms = {conn.id: conn.rooms for conn in running.server.hub.connections.values()}
            assert sorted(map(sorted, rooms.values())) == [[], [], ["red"], ["red"]]
            await bob.call("leave", "red")
            assert await ann.call("say", "alone", ["red"], False) == 0


async def test_refused_connections_get_connect_error(
    chat_config: dict[str, Any], project: Path
) -> None:
    """on_connect refusing (an AuthResult or False): connect_error, and no hub entry."""
    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        errors: list[Any] = []
        client = socketio.AsyncClient(reconnection=False)
        client.on("connect_error", lambda data: errors.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, auth={"name": "mallory"}, wait_timeout=5)
        assert errors == [{"message": "mallory is banned", "data": {"code": 4003}}]
        errors.clear()
        client = socketio.AsyncClient(reconnection=False)
        client.on("connect_error", lambda data: errors.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, auth={"name": "nobody"}, wait_timeout=5)
        assert errors == [{"message": "Forbidden", "data": {"code": 4003}}]
        # An unknown namespace is refused by Socket.IO itself.
        stranger = SioClient("/nope")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await stranger.connect(url)
        assert not running.server.hub.connections
        assert module().CLOSES == []


async def test_hub_emit_admin_broadcast_and_inspector_events(
    chat_config: dict[str, Any], project: Path
) -> None:
    """hub.emit and POST api/broadcast with "event" reach clients; events are described."""
    seen: list[Any] = []
    async with run_server(chat_config, base_dir=project) as running:
        running.server.hub.events.subscribe(seen.append)
        url = sio_base(running.server.url("/socket.io/"))
        async with (
            sio_client(url, auth={"name": "ann"}) as ann,
            sio_client(url, namespace="/admin", auth={"name": "root"}) as root,
        ):
            await ann.call("join", "red")
            reached = await running.server.hub.emit("news", 1, "two", namespace="/admin")
            assert reached == 1
            assert await root.next_event() == ("news", (1, "two"))
            assert await running.server.hub.emit("news", "red only", rooms=["red"]) == 1
            assert await ann.next_event() == ("news", ("red only",))
            assert await running.server.hub.send_to_user("ann", {"plain": True}) == 1
            assert await ann.next_event() == ("message", ({"plain": True},))
            admin = running.http_url("/__mockws/api/broadcast")
            async with aiohttp.ClientSession() as http:
                body = {"event": "alert", "data": {"level": 3}, "rooms": ["red"]}
                async with http.post(admin, json=body) as response:
                    assert response.status == 200
                    assert await response.json() == {"reached": 1}
                async with http.post(admin, json={"event": 5, "data": 1}) as response:
                    assert response.status == 400
                listing = running.http_url("/__mockws/api/connections")
                async with http.get(listing) as response:
                    views = (await response.json())["connections"]
            assert await ann.next_event() == ("alert", ({"level": 3},))
            assert {view["namespace"] for view in views} == {"/", "/admin"}
            assert {view["protocol"] for view in views} == {"socket.io"}
            assert await ann.call("shout it", "x") == "X"
    ins = [e for e in seen if isinstance(e, MessageIn) and e.event is not None]
    outs = [e for e in seen if isinstance(e, MessageOut) and e.event is not None]
    assert ("join", '["red"]') in [(e.event, e.preview) for e in ins]
    assert ("shout it", '["x"]') in [(e.event, e.preview) for e in ins]
    assert ("shout it", True, '["X"]') in [(e.event, e.ack, e.preview) for e in outs]
    assert ("news", 1, '[1, "two"]') in [(e.event, e.recipients, e.preview) for e in outs]


async def test_jwt_token_from_the_auth_payload_or_the_query(
    write: WriteFile, project: Path
) -> None:
    """Built-in JWT reads auth.token, else ?token=; a missing or bad token is a connect_error."""
    from mockws.auth.jwt import sign_token
    from mockws.config.model import JwtConfig

    write("sio_testchat.py", CHAT)
    settings = {"jwt": {"secret": "s3cret-s3cret-s3cret-s3cret-s3cret", "algorithms": ["HS256"]}}
    config = {
        "port": 0,
        "endpoints": [
            endpoint(
                "/io/", "sio_testchat.py", protocol="socket.io", authenticate=settings, heartbeat=1
            )
        ],
    }
    token = sign_token(
        JwtConfig(algorithms=("HS256",), secret=settings["jwt"]["secret"]),
        {"sub": "alice"},
        ttl=60,
    )
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/io/"))
        async with sio_client(url, auth={"token": token}, socketio_path="io") as by_auth:
            who = await by_auth.call("whoami")
            assert who["user"] == "alice" and who["auth"]["sub"] == "alice"
        async with sio_client(f"{url}?token={token}", socketio_path="io") as by_query:
            assert (await by_query.call("whoami"))["user"] == "alice"
            conn = next(iter(running.server.hub.connections.values()))
            assert "token" not in conn.query
            assert token not in conn.display_path
        for auth, message in ((None, "No token provided"), ({"token": "x.y.z"}, "Invalid token")):
            errors: list[Any] = []
            client = socketio.AsyncClient(reconnection=False)
            client.on("connect_error", errors.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(url, auth=auth, socketio_path="io", wait_timeout=5)
            assert errors[0]["message"].startswith(message)
            assert errors[0]["data"]["code"] in (4001, 4002)


async def test_handler_reload_keeps_clients_connected(
    chat_config: dict[str, Any], project: Path, write: WriteFile
) -> None:
    """A saved handler swaps in: clients of both transports stay, keep rooms and state."""
    async with run_server(chat_config, base_dir=project, reload=True) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with (
            sio_client(url, auth={"name": "ann"}, transports=["polling"]) as ann,
            sio_client(url, auth={"name": "bob"}, transports=["websocket"]) as bob,
        ):
            await ann.call("join", "red")
            assert await bob.call("shout it", "v1") == "V1"
            async with running.reloaded() as done:
                write("sio_testchat.py", CHAT.replace("text.upper()", "'v2:' + text"))
            assert done.report is not None and done.report.ok
            assert await ann.call("shout it", "x") == "v2:x"
            assert await bob.call("shout it", "y") == "v2:y"
            who = await ann.call("whoami")
            assert who["state"] == {"name": "ann"} and who["user"] == "ann"
            assert await ann.call("join", "blue") == ["blue", "red"]
            assert ann.client.connected and bob.client.connected
            assert len(running.server.hub.connections) == 2


async def test_config_reload_keeps_clients_and_removal_disconnects(
    chat_config: dict[str, Any], project: Path, write: WriteFile
) -> None:
    """An edited config keeps the server and its clients; removing the endpoint ends them."""
    from mockws.config.load import config_from_mapping

    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url, auth={"name": "ann"}, transports=["polling"]) as ann:
            await ann.call("join", "red")
            edited = json.loads(json.dumps(chat_config))
            edited["endpoints"][0]["namespaces"] = ["/", "/admin", "/more"]
            edited["endpoints"].append(
                endpoint("/other.io/", "sio_testchat.py", protocol="socket.io", heartbeat=1)
            )
            change = await running.server.apply_config(
                config_from_mapping(edited, base_dir=project)
            )
            assert change.closed == 0
            assert await ann.call("join", "blue") == ["blue", "red"]
            async with sio_client(url, namespace="/more", auth={"name": "m"}) as more:
                assert await more.call("shout it", "new ns") == "NEW NS"
            async with sio_client(url, auth={"name": "o"}, socketio_path="other.io") as other:
                assert await other.call("shout it", "o") == "O"
            removed = {"port": 0, "endpoints": [edited["endpoints"][1]]}
            change = await running.server.apply_config(
                config_from_mapping(removed, base_dir=project)
            )
            assert "/socket.io/" in change.removed and change.closed >= 1
            await eventually(lambda: not running.server.hub.connections, 5)
            await eventually(lambda: not ann.client.connected, 10)
        assert ("server disconnect", ["blue", "red"]) in [c[1:] for c in module().CLOSES]


async def test_stop_disconnects_polling_and_websocket_clients_quickly(
    chat_config: dict[str, Any], project: Path
) -> None:
    """Stopping the server ends both transports' sessions without waiting out a long poll."""
    loop = asyncio.get_running_loop()
    async with run_server(chat_config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        polling = await SioClient().connect(url, auth={"name": "p"}, transports=["polling"])
        ws = await SioClient().connect(url, auth={"name": "w"}, transports=["websocket"])
        started = loop.time()
    assert loop.time() - started < 8
    await eventually(lambda: not polling.client.connected and not ws.client.connected, 5)
    reasons = sorted(reason for _, reason, _ in module().CLOSES)
    assert len(reasons) == 2
    await polling.close()
    await ws.close()


async def test_a_socketio_endpoint_records_events_both_ways(
    chat_config: dict[str, Any], project: Path
) -> None:
    """record: on a Socket.IO endpoint writes each event in and out as {"event", "args"}."""
    sio, plain = chat_config["endpoints"]
    config = {"endpoints": [{**sio, "record": "rec/sio.jsonl"}, plain]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url + "?token=s3cret", auth={"name": "ann"}) as ann:
            assert await ann.call("echo", "hi", {"password": "hunter2"}) == (
                "hi",
                {"password": "hunter2"},
            )
            await ann.next_event()
        file = project / "rec" / "sio.jsonl"
        await eventually(lambda: file.exists() and '"close"' in file.read_text(), 5)
    text = file.read_text(encoding="utf-8")
    assert "hunter2" not in text and "s3cret" not in text
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0]["mockws"] == 1 and rows[0]["endpoint"] == "/socket.io/"
    frames = [(row["dir"], row["json"]["event"]) for row in rows[1:] if "json" in row]
    assert ("in", "echo") in frames and ("out", "echoed") in frames
    assert rows[-1]["close"] is not None


async def test_faults_act_on_socketio_events(chat_config: dict[str, Any], project: Path) -> None:
    """refuse, latency and disconnect act on a Socket.IO endpoint's events; stall is refused."""
    sio, plain = chat_config["endpoints"]
    faults = {"refuse": {"next": 1}, "latency": "300ms", "disconnect": {"after": 2, "code": 1012}}
    config = {"endpoints": [{**sio, "faults": faults}, plain]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        errors: list[Any] = []
        refused = socketio.AsyncClient(reconnection=False)
        refused.on("connect_error", lambda data: errors.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            await refused.connect(url, auth={"name": "ann"}, wait_timeout=5)
        assert errors and "faults.refuse" in errors[0]["message"]
        async with sio_client(url, auth={"name": "ann"}, transports=["websocket"]) as ann:
            started = time.monotonic()
            await ann.emit("echo", "one")
            assert await ann.next_event() == ("echoed", ("one",))
            assert time.monotonic() - started >= 0.28
            await ann.emit("echo", "two")
            assert await ann.next_event() == ("echoed", ("two",))
            # The second event out was the last: the fault ended the session.
            await eventually(lambda: not ann.client.connected, 5)
    with pytest.raises(ConfigError, match="stall is not available on a Socket.IO endpoint"):
        config_from_mapping({"endpoints": [{**sio, "faults": {"stall": True}}]}, base_dir=project)
