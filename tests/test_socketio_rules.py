"""Declarative rules on Socket.IO events: match on the event and its arguments, emit, ack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import socketio

from mockws.config.load import config_from_mapping
from mockws.errors import ConfigError
from mockws.testing import run_server

from .helpers import sio_base, sio_client

RULES: dict[str, Any] = {
    "pattern": "/socket.io/",
    "protocol": "socket.io",
    "heartbeat": 1,
    "on_connect": [{"emit": {"event": "welcome", "data": "{{ conn.id }}"}}],
    "rules": [
        {"match": {"event": "ping"}, "emit": "pong"},
        {"match": {"event": "join"}, "join": "{{ data.args[0] }}", "reply": "{{ conn.rooms }}"},
        {
            "match": {"event": "chat message", "args": [{"room": "lobby"}]},
            "broadcast": {"text": "{{ data.args[0].text }}"},
            "event": "chat",
            "rooms": ["lobby"],
            "include_self": False,
        },
        {"match": {"event": "add"}, "reply": "{{ data.args[0] + data.args[1] }}"},
        {
            "match": {"event": "two"},
            "emit": {"event": "pair", "args": ["{{ data.args[0] }}", 2]},
        },
        {"match": {"event": "bye"}, "close": {"code": 4000, "reason": "bye"}},
    ],
}


async def test_rules_match_events_and_their_arguments_emit_and_ack(project: Path) -> None:
    """on_connect emits; rules match event names and argument subsets; reply is the ack."""
    config = {"port": 0, "endpoints": [RULES]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url) as ann, sio_client(url) as bob:
            event, (conn_id,) = await ann.next_event()
            assert event == "welcome" and conn_id in running.server.hub.connections
            await ann.emit("ping")
            assert await ann.next_event() == ("pong", ())
            assert await ann.call("join", "lobby") == ["lobby"]
            assert await bob.call("join", "lobby") == ["lobby"]
            await bob.next_event()  # its welcome
            await ann.emit("chat message", {"room": "lobby", "text": "hi"})
            assert await bob.next_event() == ("chat", ({"text": "hi"},))
            assert await ann.silent(0.2)
            # The argument does not match the rule's subset: nothing happens.
            await ann.emit("chat message", {"room": "attic", "text": "no"})
            assert await bob.silent(0.2)
            assert await ann.call("add", 2, 3) == 5
            await ann.emit("two", "one")
            assert await ann.next_event() == ("pair", ("one", 2))


async def test_a_close_step_disconnects_and_on_connect_close_refuses(project: Path) -> None:
    """A close step ends the client; one in on_connect is a connect_error with its reason."""
    refusing = dict(RULES, on_connect=[{"close": {"code": 4003, "reason": "go away"}}])
    config = {"port": 0, "endpoints": [dict(RULES), dict(refusing, pattern="/closed.io/")]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url) as ann:
            await ann.next_event()
            await ann.emit("bye")
            for _ in range(100):
                if not running.server.hub.connections:
                    break
                await ann.silent(0.05)
            assert not running.server.hub.connections
        errors: list[Any] = []
        client = socketio.AsyncClient(reconnection=False)
        client.on("connect_error", errors.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(url, socketio_path="closed.io", wait_timeout=5)
        assert errors == [{"message": "go away", "data": {"code": 4003}}]


@pytest.mark.parametrize(
    ("step", "key"),
    [
        ({"emit": "pong"}, "endpoints[0].rules[0].emit"),
        ({"broadcast": "x", "event": "e"}, "endpoints[0].rules[0].broadcast"),
    ],
)
def test_event_steps_need_a_socketio_endpoint(step: dict[str, Any], key: str) -> None:
    """emit, and broadcast with an event, on a WebSocket endpoint: an error naming the key."""
    config = {"endpoints": [{"pattern": "/ws", "rules": [{"match": {"type": "x"}, **step}]}]}
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(config)
    assert key in str(caught.value) and "protocol: socket.io" in str(caught.value)


def test_emit_needs_an_event_and_not_both_data_and_args() -> None:
    """emit: {data} without event, or with both data and args, is refused with the key."""
    for emit, key in (
        ({"data": 1}, "rules[0].emit: missing required key 'event'"),
        ({"event": "e", "data": 1, "args": [1]}, "rules[0].emit.args"),
    ):
        endpoint = dict(RULES, rules=[{"match": {"event": "x"}, "emit": emit}])
        with pytest.raises(ConfigError) as caught:
            config_from_mapping({"endpoints": [endpoint]})
        assert key in str(caught.value)
