"""Rules over real sockets: every step, matcher and template name (mockws/hooks/rules.py)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mockws.events import Event
from mockws.testing import MockClient, run_server

from ..helpers import WriteFile, eventually


def rules_endpoint(pattern: str = "/r", **keys: Any) -> dict[str, Any]:
    return {"pattern": pattern, **keys}


async def closed_code(client: MockClient) -> int | None:
    """Read until the server's close arrives; return its code."""
    with pytest.raises(ConnectionError):
        for _ in range(20):
            await client.receive()
    return client.socket.close_code


async def nothing_arrives(client: MockClient, wait: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        await client.receive(timeout=wait)


def server_with(*endpoints: dict[str, Any], **top: Any) -> Any:
    return run_server({"endpoints": list(endpoints), **top})


async def test_reply_and_first_match_wins() -> None:
    """The first rule that matches answers; later ones do not run for that message."""
    rules = [
        {"match": {"type": "ping"}, "reply": {"type": "pong"}},
        {"match": {"type": "ping"}, "reply": {"type": "second"}},
        {"reply": {"type": "catch-all"}},
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
        await client.send({"type": "other"})
        assert await client.receive() == {"type": "catch-all"}
        await client.send("plain text")
        assert await client.receive() == {"type": "catch-all"}


@pytest.mark.parametrize(
    ("match", "hits", "misses"),
    [
        (
            {"type": "chat", "user": {"role": "admin"}},
            [{"type": "chat", "user": {"role": "admin", "id": 3}, "x": 1}],
            [{"type": "chat", "user": {"role": "guest"}}, {"type": "chat"}, ["chat"]],
        ),
        ({"args": [1, {"k": "v"}]}, [{"args": [1, {"k": "v", "z": 0}, 9]}], [{"args": [1]}]),
        (
            {"name": {"regex": "^ad"}},
            [{"name": "ada"}, {"name": "adam"}],
            [{"name": "bob"}, {"name": 5}],
        ),
        (
            {"kind": {"one_of": ["a", {"regex": "^z"}]}},
            [{"kind": "a"}, {"kind": "zed"}],
            [{"kind": "b"}, {"other": "a"}],
        ),
        ({"flag": True}, [{"flag": True}], [{"flag": 1}, {"flag": "true"}]),
        ({"n": 1}, [{"n": 1}, {"n": 1.0}], [{"n": True}, {"n": "1"}]),
        ({"v": None}, [{"v": None}], [{}, {"v": 0}]),
        ({"text": "^hello\\b"}, ["hello there"], ["helloworld", {"text": "hello there"}]),
        ({"type": "chat", "text": "hi"}, [{"type": "chat", "text": "hi"}], ["hi"]),
        ({"json": {"text": "hi"}}, [{"text": "hi"}], ["hi"]),
        (
            {"jsonpath": "$.items[?(@.qty > 10)]"},
            [{"items": [{"qty": 5}, {"qty": 11}]}],
            [{"items": [{"qty": 5}]}, "items"],
        ),
        ({"binary": True}, [b"\x00\x01"], ["text", {"binary": True}]),
    ],
)
async def test_matchers(match: dict[str, Any], hits: list[Any], misses: list[Any]) -> None:
    """JSON subset (nested, lists by position, regex, one_of), text, json, jsonpath, binary."""
    rules = [{"match": match, "reply": "hit"}, {"reply": "miss"}]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        for message in hits:
            await client.send(message)
            assert await client.receive() == "hit", message
        for message in misses:
            await client.send(message)
            assert await client.receive() == "miss", message


async def test_when_condition() -> None:
    """A rule whose when is false lets the message go on to the next rule."""
    rules = [
        {"match": {"type": "chat"}, "when": "{{ data.text | length < 5 }}", "reply": "short"},
        {"match": {"type": "chat"}, "when": "data.text | length >= 5", "reply": "long"},
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        await client.send({"type": "chat", "text": "hi"})
        assert await client.receive() == "short"
        await client.send({"type": "chat", "text": "hello there"})
        assert await client.receive() == "long"


async def test_template_names_over_a_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """data, conn (every field), params, query, now, now_ms, uuid, seq and env render."""
    monkeypatch.setenv("MOCKWS_SHOWN", "visible")
    monkeypatch.setenv("MOCKWS_HIDDEN", "secret")
    reply = {
        "data": "{{ data.v }}",
        "id": "{{ conn.id }}",
        "endpoint": "{{ conn.endpoint }}",
        "conn_params": "{{ conn.params }}",
        "conn_query": "{{ conn.query }}",
        "user": "{{ conn.user_id }}",
        "auth": "{{ conn.auth_data }}",
        "state": "{{ conn.state }}",
        "rooms": "{{ conn.rooms }}",
        "params": "{{ params.room }}",
        "query": "{{ query.q }}",
        "now": "{{ now }}",
        "now_ms": "{{ now_ms }}",
        "uuid": "{{ uuid }}",
        "seq": "{{ seq }}",
        "env": "{{ env }}",
    }
    endpoint = rules_endpoint(
        "/rooms/{room}",
        on_connect=[{"join": "lobby"}, {"set": {"seen": "{{ params.room }}"}}],
        rules=[{"match": {"type": "names"}, "reply": reply}],
    )
    async with server_with(endpoint, template_env=["MOCKWS_SHOWN", "MOCKWS_UNSET_X"]) as server:
        client = await server.connect("/rooms/blue", query={"q": "x"})
        before = time.time() * 1000
        await client.send({"type": "names", "v": [1, 2]})
        got = await client.receive()
        await client.send({"type": "names", "v": 0})
        second = await client.receive()
    assert got["data"] == [1, 2] and got["id"] == "c1" and got["endpoint"] == "/rooms/{room}"
    assert got["conn_params"] == {"room": "blue"} and got["conn_query"] == {"q": "x"}
    assert got["user"] is None and got["auth"] is None
    assert got["state"] == {"seen": "blue"} and got["rooms"] == ["lobby"]
    assert got["params"] == "blue" and got["query"] == "x"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got["now"])
    assert before - 5000 < got["now_ms"] < time.time() * 1000 + 5000
    assert uuid.UUID(got["uuid"]).version == 4 and second["uuid"] != got["uuid"]
    assert (got["seq"], second["seq"]) == (1, 2)
    assert got["env"] == {"MOCKWS_SHOWN": "visible"}


async def test_broadcast_rooms_and_include_self() -> None:
    """broadcast reaches the endpoint or the rendered rooms; include_self: false skips sender."""
    rules = [
        {"match": {"type": "join"}, "join": "{{ data.room }}", "reply": "joined"},
        {
            "match": {"type": "say"},
            "broadcast": {"text": "{{ data.text }}", "from": "{{ conn.id }}"},
            "rooms": ["{{ data.room }}"],
        },
        {
            "match": {"type": "typing"},
            "broadcast": {"typing": "{{ conn.id }}"},
            "include_self": False,
        },
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        first, second, third = [await server.connect("/r") for _ in range(3)]
        for client in (first, second):
            await client.send({"type": "join", "room": "blue"})
            assert await client.receive() == "joined"
        await first.send({"type": "say", "room": "blue", "text": "hi"})
        for client in (first, second):
            assert await client.receive() == {"text": "hi", "from": "c1"}
        await nothing_arrives(third)
        await second.send({"type": "typing"})
        for client in (first, third):
            assert await client.receive() == {"typing": "c2"}
        await nothing_arrives(second)


async def test_join_leave_set_close_and_do() -> None:
    """join/leave change rooms, set merges into conn.state, do runs steps in order, close closes."""
    rules = [
        {
            "match": {"type": "sub"},
            "join": ["a", "b"],
            "set": {"sub": "{{ data.n }}"},
            "reply": {"rooms": "{{ conn.rooms }}", "state": "{{ conn.state }}"},
        },
        {"match": {"type": "unsub"}, "leave": "a", "reply": "{{ conn.rooms }}"},
        {"match": {"type": "two"}, "do": [{"reply": "one"}, {"wait": "10ms"}, {"reply": "two"}]},
        {"match": {"type": "bye"}, "close": {"code": 4000, "reason": "bye {{ conn.id }}"}},
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        await client.send({"type": "sub", "n": 7})
        assert await client.receive() == {"rooms": ["a", "b"], "state": {"sub": 7}}
        assert server.hub.get("c1").state == {"sub": 7}  # type: ignore[union-attr]
        await client.send({"type": "unsub"})
        assert await client.receive() == ["b"]
        await client.send({"type": "two"})
        assert [await client.receive(), await client.receive()] == ["one", "two"]
        await client.send({"type": "bye"})
        assert await closed_code(client) == 4000
        assert client.socket.close_code == 4000


async def test_reply_file_is_templated(write: WriteFile, project: Path) -> None:
    """reply_file sends a JSON file, rendered like reply (native types kept)."""
    write("fixtures/history.json", '{"for": "{{ conn.id }}", "rows": "{{ [1, 2] }}"}')
    config = {"endpoints": [rules_endpoint(rules=[{"reply_file": "fixtures/history.json"}])]}
    async with run_server(config, base_dir=project) as server:
        client = await server.connect("/r")
        await client.send("any")
        assert await client.receive() == {"for": "c1", "rows": [1, 2]}


async def test_delay_and_jitter_bounds() -> None:
    """delay: 200ms waits about that long; [low, high] waits within the range; others go on."""
    rules = [
        {"match": {"type": "slow"}, "delay": "200ms", "reply": "slow"},
        {"match": {"type": "jitter"}, "delay": ["50ms", "150ms"], "reply": "jitter"},
        {"match": {"type": "fast"}, "reply": "fast"},
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        started = time.monotonic()
        await client.send({"type": "slow"})
        await client.send({"type": "fast"})
        assert await client.receive() == "fast"  # a delayed rule does not hold up the next message
        assert await client.receive() == "slow"
        assert time.monotonic() - started >= 0.19
        for _ in range(5):
            started = time.monotonic()
            await client.send({"type": "jitter"})
            assert await client.receive() == "jitter"
            assert 0.045 <= time.monotonic() - started < 1.5


async def test_native_type_rule_over_a_socket() -> None:
    """A string that is exactly one {{ }} keeps its JSON type on the wire; other text is text."""
    rules = [
        {"match": {"type": "echo"}, "reply": "{{ data }}"},
        {"match": {"type": "n"}, "reply": {"n": "{{ data.n + 1 }}", "s": "n={{ data.n }}"}},
    ]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        await client.send({"type": "echo", "list": [1, True, None]})
        assert await client.receive() == {"type": "echo", "list": [1, True, None]}
        await client.send({"type": "n", "n": 41})
        assert await client.receive() == {"n": 42, "s": "n=41"}


async def test_a_render_error_is_logged_with_file_line_and_the_message_is_not_answered(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """{{ data.missing }} fails: logged with the rule's file:line:key, no answer, still serving."""
    path = write(
        "mockws.yaml",
        """
        endpoints:
          - pattern: /r
            rules:
              - match: {type: bad}
                reply: {x: "{{ data.missing }}"}
              - match: {type: ok}
                reply: ok
        """,
    )
    events: list[Event] = []
    async with run_server(path) as server:
        server.hub.events.subscribe(events.append, messages=False)
        client = await server.connect("/r")
        with caplog.at_level(logging.ERROR, logger="mockws.rules"):
            await client.send({"type": "bad"})
            await client.send({"type": "ok"})
            assert await client.receive() == "ok"
    [record] = [r for r in caplog.records if r.name == "mockws.rules"]
    assert "mockws.yaml:5: endpoints[0].rules[0].reply.x:" in record.getMessage()
    assert "has no attribute 'missing'" in record.getMessage()
    assert [e.kind for e in events if e.kind == "error"] == ["error"]


async def test_sandbox_escape_is_refused_at_load_and_at_render(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """{{ ''.__class__.__mro__ }} does not load; a computed dunder is refused when rendered."""
    from mockws.errors import ConfigError

    with pytest.raises(ConfigError, match="names that start with '_' are not allowed"):
        async with server_with(rules_endpoint(rules=[{"reply": "{{ ''.__class__.__mro__ }}"}])):
            pass
    rules = [{"reply": "{{ data.s[data.k] }}"}]
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        with caplog.at_level(logging.ERROR, logger="mockws.rules"):
            await client.send({"s": "x", "k": "__class__"})
            await nothing_arrives(client)
    assert any("unsafe" in r.getMessage() for r in caplog.records)


async def test_unmatched_messages_go_to_on_message(write: WriteFile, project: Path) -> None:
    """Rules first; what no rule handled reaches the handler's on_message."""
    write("h.py", "async def on_message(conn, data):\n    await conn.send({'handler': data})\n")
    endpoint = rules_endpoint(handler="h.py", rules=[{"match": {"type": "ping"}, "reply": "pong"}])
    async with run_server({"endpoints": [endpoint]}, base_dir=project) as server:
        client = await server.connect("/r")
        await client.send({"type": "ping"})
        assert await client.receive() == "pong"
        await client.send({"type": "other"})
        assert await client.receive() == {"handler": {"type": "other"}}


async def test_unmatched_without_a_handler_is_logged_once_and_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No handler: an unmatched message is logged once per endpoint, and each is an event."""
    events: list[Event] = []
    async with server_with(rules_endpoint(rules=[{"match": {"type": "x"}, "reply": 1}])) as server:
        server.hub.events.subscribe(events.append, messages=False)
        client = await server.connect("/r")
        with caplog.at_level(logging.WARNING, logger="mockws.rules"):
            for n in range(3):
                await client.send({"type": "y", "n": n, "password": "hunter2"})
            await client.send({"type": "x"})
            assert await client.receive() == 1
    warnings = [r.getMessage() for r in caplog.records if r.name == "mockws.rules"]
    assert len(warnings) == 1 and "no rule matched" in warnings[0]
    assert "hunter2" not in warnings[0]
    unmatched = [e for e in events if e.kind == "unmatched"]
    assert len(unmatched) == 3 and "hunter2" not in unmatched[0].preview  # type: ignore[attr-defined]


async def test_on_connect_steps_run_before_the_handler_on_connect(
    write: WriteFile, project: Path
) -> None:
    """on_connect steps run in order after auth, then the handler's on_connect."""
    write(
        "h.py",
        "async def on_connect(conn):\n    await conn.send({'h': sorted(conn.rooms)})\n",
    )
    endpoint = rules_endpoint(
        handler="h.py",
        on_connect=[{"send": {"type": "welcome", "id": "{{ conn.id }}"}}, {"join": "lobby"}],
    )
    async with run_server({"endpoints": [endpoint]}, base_dir=project) as server:
        client = await server.connect("/r")
        assert await client.receive() == {"type": "welcome", "id": "c1"}
        assert await client.receive() == {"h": ["lobby"]}


async def test_on_connect_close_ends_the_connection() -> None:
    """A close step in on_connect closes with its code."""
    endpoint = rules_endpoint(on_connect=[{"close": {"code": 4001, "reason": "go"}}])
    async with server_with(endpoint) as server:
        client = await server.connect("/r")
        assert await closed_code(client) == 4001


async def test_many_rules_pick_the_same_winner_as_trying_each() -> None:
    """With the index, 50 rules of which the last matches still answer with that rule."""
    rules: list[dict[str, Any]] = [{"match": {"type": f"t{n}"}, "reply": n} for n in range(49)]
    rules.insert(10, {"match": {"other": 1}, "reply": "other"})
    rules.append({"match": {"type": "last"}, "reply": "last"})
    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        for message, expected in [
            ({"type": "last"}, "last"),
            ({"type": "t3"}, 3),
            ({"type": "t20", "other": 1}, "other"),
            ({"type": "t48"}, 48),
        ]:
            await client.send(message)
            assert await client.receive() == expected


async def test_connection_closing_cancels_its_waiting_rules() -> None:
    """A delayed reply of a connection that closed is dropped, and no task is left running."""
    rules = [{"match": {"type": "slow"}, "delay": "5s", "reply": "late"}]

    def waiting() -> list[asyncio.Task[Any]]:
        return [t for t in asyncio.all_tasks() if t.get_name().endswith("rules[0] c1")]

    async with server_with(rules_endpoint(rules=rules)) as server:
        client = await server.connect("/r")
        await client.send({"type": "slow"})
        await eventually(lambda: len(waiting()) == 1)
        await client.close()
        await eventually(lambda: not server.hub.connections and not waiting())
        assert server.server.books["/r"].seq(0) == 1
