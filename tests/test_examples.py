"""The example config's handlers, driven like a frontend would (handlers/*.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest
import socketio

from mockws.testing import MockClient, RunningServer

from .helpers import EXAMPLE_CONFIG, SioClient, sio_base, sio_client


@pytest.fixture
def mockws_config() -> Path:
    return EXAMPLE_CONFIG


@pytest.fixture
def server(mockws_server: RunningServer) -> RunningServer:
    """The example config, served by the mockws pytest plugin."""
    return mockws_server


async def chat_client(server: RunningServer, room: str | None = None) -> tuple[MockClient, str]:
    client = await server.connect("/ws/chat")
    welcome = await client.receive_json()
    assert welcome["type"] == "welcome"
    if room is not None:
        await client.send({"type": "join", "room": room})
        assert await client.receive_json() == {"type": "joined", "room": room}
    return client, welcome["id"]


async def silent(client: MockClient, window: float = 0.2) -> bool:
    try:
        await client.receive(timeout=window)
    except TimeoutError:
        return True
    return False


async def test_chat_room_excludes_sender_and_non_members(server: RunningServer) -> None:
    """A chat message reaches the other members of the room, not the sender or outsiders."""
    ann, ann_id = await chat_client(server, "lobby")
    bob, bob_id = await chat_client(server, "lobby")
    assert await ann.receive_json() == {"type": "presence", "room": "lobby", "joined": bob_id}
    cid, cid_id = await chat_client(server, "lobby")
    for member in (ann, bob):
        assert await member.receive_json() == {
            "type": "presence",
            "room": "lobby",
            "joined": cid_id,
        }
    outsider, _ = await chat_client(server)
    await ann.send({"type": "chat", "room": "lobby", "text": "hello"})
    expected = {"type": "chat", "room": "lobby", "from": ann_id, "text": "hello"}
    assert await bob.receive_json() == expected
    assert await cid.receive_json() == expected
    assert await silent(ann)
    assert await silent(outsider)


async def test_chat_leave_and_errors(server: RunningServer) -> None:
    """Leaving stops delivery; unknown types and chatting outside a room get an error."""
    ann, _ = await chat_client(server, "r")
    bob, bob_id = await chat_client(server, "r")
    await ann.receive_json()  # bob's presence
    await bob.send({"type": "leave", "room": "r"})
    assert await bob.receive_json() == {"type": "left", "room": "r"}
    await ann.send({"type": "chat", "room": "r", "text": "anyone?"})
    assert await silent(bob)
    await bob.send({"type": "chat", "room": "r", "text": "x"})
    assert "join 'r'" in (await bob.receive_json())["error"]
    await bob.send({"type": "dance"})
    assert await bob.receive_json() == {"type": "error", "error": "unknown message type 'dance'"}
    await bob.send("plain text")
    assert (await bob.receive_json())["type"] == "error"
    assert bob_id not in {c.id for c in server.hub.rooms.get("r", ())}


async def test_chat_close_announces_departure(server: RunningServer) -> None:
    """When a member disconnects, the others in its rooms are told."""
    ann, _ = await chat_client(server, "r")
    bob, bob_id = await chat_client(server, "r")
    await ann.receive_json()
    await bob.close()
    assert await ann.receive_json() == {"type": "presence", "room": "r", "left": bob_id}


async def test_dashboard_pushes_updates_and_channels(server: RunningServer) -> None:
    """The dashboard pushes an update every second; subscribing adds a channel's metrics."""
    client = await server.connect("/ws/dashboard")
    assert await client.receive_json() == {"type": "hello", "channels": ["cpu", "memory"]}
    await client.send({"type": "subscribe", "channel": "cpu"})
    assert await client.receive_json() == {"type": "subscribed", "channel": "cpu"}
    loop = asyncio.get_running_loop()
    started = loop.time()
    seen: dict[str, dict[str, object]] = {}
    while ("update" not in seen or "metric" not in seen) and loop.time() - started < 3.5:
        message = await client.receive_json(timeout=2.5)
        seen[message["type"]] = message
    assert seen["update"]["users_online"] == 1
    assert seen["metric"]["channel"] == "cpu"
    await client.send({"type": "unsubscribe", "channel": "cpu"})
    await client.send({"type": "subscribe", "channel": "gpu"})
    replies = []
    while len(replies) < 2:
        message = await client.receive_json(timeout=2.5)
        if message["type"] not in ("update", "metric"):
            replies.append(message)
    assert replies == [
        {"type": "unsubscribed", "channel": "cpu"},
        {"type": "error", "error": "unknown channel 'gpu'"},
    ]


async def test_lobby_includes_sender_and_separates_games(server: RunningServer) -> None:
    """Lobby events go to every player of the same game, the sender included."""
    p1 = await server.connect("/ws/games/g1")
    joined = await p1.receive_json()
    assert joined["type"] == "player_joined" and joined["game"] == "g1" and joined["players"] == 1
    p2 = await server.connect("/ws/games/g1")
    assert (await p1.receive_json())["players"] == 2
    assert (await p2.receive_json())["players"] == 2
    other_game = await server.connect("/ws/games/g2")
    assert (await other_game.receive_json())["game"] == "g2"
    await p1.send({"type": "move", "move": "e4"})
    expected = {"type": "move", "player": joined["player"], "move": "e4"}
    assert await p1.receive_json() == expected
    assert await p2.receive_json() == expected
    assert await silent(other_game)


async def test_login_route_hands_out_a_token_the_socket_accepts(server: RunningServer) -> None:
    """POST /api/login gives a token for /ws/notifications; GET /api/me reads its claims back."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            server.http_url("/api/login"), json={"user": "alice", "role": "admin"}
        ) as response:
            assert response.status == 200
            login = await response.json()
        assert login["user"] == "alice"
        bearer = {"Authorization": f"Bearer {login['token']}"}
        async with http.get(server.http_url("/api/me"), headers=bearer) as response:
            me = await response.json()
        assert (response.status, me["user"], me["role"]) == (200, "alice", "admin")
        assert me["expires"] > time.time() + 3500
        async with http.get(server.http_url("/api/me")) as response:
            assert response.status == 401
        client = await server.connect("/ws/notifications", query={"token": login["token"]})
        hello = await client.receive_json()
        assert (hello["type"], hello["user"], hello["role"]) == ("hello", "alice", "admin")
        async with http.post(
            server.http_url("/api/notify/alice"), json={"text": "build passed"}
        ) as response:
            assert response.status == 204
        assert await client.receive_json() == {
            "type": "notification",
            "from": "api",
            "text": "build passed",
        }


async def test_socketio_chat_rooms_acks_and_refusal(server: RunningServer) -> None:
    """The Socket.IO chat: a name is required, joins and messages are acknowledged."""
    url = sio_base(server.server.url("/socket.io/"))
    async with (
        sio_client(url, auth={"name": "ann"}) as ann,
        sio_client(url, auth={"name": "bob"}) as bob,
    ):
        assert await ann.call("join", "lobby") == {"room": "lobby", "members": 1}
        assert await bob.call("join", "lobby") == {"room": "lobby", "members": 2}
        assert await ann.next_event() == ("presence", ({"room": "lobby", "joined": "bob"},))
        assert await bob.call("chat message", {"room": "lobby", "text": "hi"}) == {"ok": True}
        chat = ("chat message", ({"room": "lobby", "from": "bob", "text": "hi"},))
        assert await ann.next_event() == chat
        assert await bob.next_event() == chat
        refused = await ann.call("chat message", {"room": "attic", "text": "x"})
        assert refused == {"ok": False, "error": "join 'attic' before chatting in it"}
        who = await ann.call("whoami")
        assert who["name"] == "ann" and who["rooms"] == ["lobby"]
        await ann.emit("dance")
        assert await ann.next_event() == ("error", ({"error": "unknown event 'dance'"},))
    nameless = SioClient()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await nameless.connect(url)


async def test_the_yaml_only_endpoint(server: RunningServer) -> None:
    """/ws/live: ping/pong, a typing indicator for the others, a ticker for subscribers."""
    ann = await server.connect("/ws/live")
    bob = await server.connect("/ws/live")
    ann_id = (await ann.receive_json())["id"]
    assert (await bob.receive_json())["type"] == "welcome"
    await ann.send({"type": "ping"})
    pong = await ann.receive_json()
    assert pong["type"] == "pong" and pong["at"].endswith("Z")
    await ann.send({"type": "typing"})
    assert await bob.receive_json() == {"type": "typing", "from": ann_id}
    assert await silent(ann)
    await bob.send({"type": "subscribe"})
    assert await bob.receive_json() == {"type": "subscribed", "channel": "prices"}
    tick = await bob.receive_json(timeout=3)
    assert tick["type"] == "tick" and tick["n"] >= 1 and 100 <= tick["price"] < 200
    assert await silent(ann, 1.2)  # not subscribed: no ticks
