"""JSON views of connections, rooms and the server (mockws/admin/views.py), over a real server."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
import jwt
import pytest

from mockws.admin.views import connection_view, counters_view, room_views, server_view
from mockws.testing import RunningServer, run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint, eventually

SECRET = "a-views-test-secret-of-at-least-32-bytes"


def ticket(subject: str) -> str:
    """A token the /secure endpoint accepts."""
    return jwt.encode({"sub": subject}, SECRET, algorithm="HS256")


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    """A server under /api with a room endpoint and a JWT endpoint reading ?ticket=."""
    write("cmd.py", COMMAND_HANDLER)
    config = {
        "prefix": "/api/",
        "endpoints": [
            endpoint("/rooms/{room}", "cmd.py", subprotocols=["chat.v1"]),
            endpoint(
                "/secure",
                "cmd.py",
                authenticate={
                    "jwt": {"secret": SECRET, "algorithms": ["HS256"], "query_param": "ticket"}
                },
            ),
        ],
    }
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


async def test_connection_view_describes_one_connection(server: RunningServer) -> None:
    """The view has the id, pattern, masked path, params, user, sorted rooms, counts and peer."""
    before = time.time()
    client = await server.connect(
        "/rooms/lobby", query={"token": "s3cret", "x": "1"}, protocols=("chat.v1",)
    )
    await command(client, op="join", room="zeta")
    await command(client, op="join", room="alpha")
    await command(client, op="set_user", user="ann")
    view = connection_view(server.hub.connections["c1"])
    connected_at = view.pop("connected_at")
    assert before <= connected_at <= time.time()
    assert view == {
        "id": "c1",
        "endpoint": "/rooms/{room}",
        "path": "/api/rooms/lobby?token=***&x=1",
        "params": {"room": "lobby"},
        "user": "ann",
        "rooms": ["alpha", "zeta"],
        "messages_in": 3,
        "messages_out": 3,
        "dropped": 0,
        "subprotocol": "chat.v1",
        "remote": "127.0.0.1",
        "faults": None,
        "protocol": "websocket",
        "upstream": None,
    }
    assert "s3cret" not in json.dumps(view)


async def test_connection_view_masks_the_endpoints_own_token_parameter(
    server: RunningServer,
) -> None:
    """The JWT endpoint's query_param is masked with the default secret names."""
    token = ticket("bob")
    await server.connect("/secure", query={"ticket": token, "api_key": "k", "page": "2"})
    view = connection_view(server.hub.connections["c1"])
    assert view["path"] == "/api/secure?ticket=***&api_key=***&page=2"
    assert (view["subprotocol"], view["user"]) == (None, "bob")
    assert not any(part in json.dumps(view) for part in token.split("."))


async def test_room_views_are_sorted_by_name_with_sorted_members(server: RunningServer) -> None:
    """Rooms come sorted by name, each with its member ids sorted; empty rooms vanish."""
    assert room_views(server.hub) == []
    first = await server.connect("/rooms/a")
    second = await server.connect("/rooms/b")
    await command(second, op="join", room="mid")
    await command(second, op="join", room="alpha")
    await command(first, op="join", room="zeta")
    await command(first, op="join", room="alpha")
    assert room_views(server.hub) == [
        {"name": "alpha", "members": ["c1", "c2"]},
        {"name": "mid", "members": ["c2"]},
        {"name": "zeta", "members": ["c1"]},
    ]
    await command(second, op="leave", room="mid")
    assert [room["name"] for room in room_views(server.hub)] == ["alpha", "zeta"]
    await second.close()
    await eventually(lambda: room_views(server.hub)[0]["members"] == ["c1"])


async def test_counters_view_follows_messages_users_and_closes(server: RunningServer) -> None:
    """Counters give each open connection's message counts, user and drops, by id."""
    first = await server.connect("/rooms/a")
    second = await server.connect("/rooms/b")
    assert counters_view(server.hub) == {
        "c1": {"messages_in": 0, "messages_out": 0, "user": None, "dropped": 0},
        "c2": {"messages_in": 0, "messages_out": 0, "user": None, "dropped": 0},
    }
    await command(first, op="set_user", user="ann")
    await first.send("echo me")
    assert await first.receive() == "echo me"
    counters = counters_view(server.hub)
    assert counters["c1"] == {"messages_in": 2, "messages_out": 2, "user": "ann", "dropped": 0}
    await second.close()
    await eventually(lambda: set(counters_view(server.hub)) == {"c1"})


async def test_server_view_lists_address_prefix_and_endpoint_urls(server: RunningServer) -> None:
    """The server view has the bound port, the prefix, and each endpoint's URL and handler."""
    port = server.port
    assert port != 0
    view = server_view(server.server)
    assert view == {
        "host": "127.0.0.1",
        "port": port,
        "prefix": "/api",
        "endpoints": [
            {
                "pattern": "/rooms/{room}",
                "url": f"ws://127.0.0.1:{port}/api/rooms/{{room}}",
                "handler": "cmd.py",
                "faults": None,
                "protocol": "websocket",
                "summary": "cmd.py",
                "record": False,
            },
            {
                "pattern": "/secure",
                "url": f"ws://127.0.0.1:{port}/api/secure",
                "handler": "cmd.py",
                "faults": None,
                "protocol": "websocket",
                "summary": "cmd.py",
                "record": False,
            },
        ],
        "http": [],
    }
    assert json.loads(json.dumps(view)) == view


async def test_server_view_urls_reach_their_endpoint(server: RunningServer) -> None:
    """An endpoint URL from the server view, placeholder filled in, opens a WebSocket there."""
    url = server_view(server.server)["endpoints"][0]["url"].replace("{room}", "lobby")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url, protocols=("chat.v1",)) as socket:
            await socket.send_json({"op": "info"})
            reply = await socket.receive_json(timeout=5)
    assert reply["result"]["params"] == {"room": "lobby"}
    assert reply["result"]["endpoint"] == "/rooms/{room}"
