"""Proxied endpoints over real sockets, with a plain `websockets` upstream and mockws itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from mockws.auth.jwt import sign_token
from mockws.config.proxy import ProxyConfig
from mockws.hooks.proxy import upstream_url
from mockws.testing import run_server
from tests.helpers import WriteFile

SECRET = "a-proxy-test-secret-of-32-bytes!!"


async def _upstream(connection: ServerConnection) -> None:
    """The test upstream: what it does depends on the path it is asked for."""
    request = connection.request
    assert request is not None
    path = request.path
    if path.startswith("/hello"):
        await connection.send("hello from upstream")
    if path.startswith("/query"):
        await connection.send(path)
        return await connection.wait_closed()
    if path.startswith("/headers"):
        await connection.send(json.dumps(dict(request.headers.raw_items())))
        return await connection.wait_closed()
    if path.startswith("/close4001"):
        await connection.recv()
        await connection.close(4001, "upstream says no")
        return
    if path.startswith("/protocol"):
        await connection.send(f"protocol={connection.subprotocol}")
    async for message in connection:
        await connection.send(message)


def _choose_subprotocol(connection: ServerConnection, offered: Any) -> str | None:
    return next((name for name in offered if name in ("v2", "v1")), None)


def _refuse_some(connection: ServerConnection, request: Request) -> Response | None:
    if request.path.startswith("/forbidden"):
        return connection.respond(403, "Forbidden by upstream\n")
    return None


@asynccontextmanager
async def plain_upstream() -> AsyncIterator[str]:
    """A plain `websockets` server; yields its ws:// base URL."""
    async with serve(
        _upstream,
        "127.0.0.1",
        0,
        select_subprotocol=_choose_subprotocol,
        process_request=_refuse_some,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


@asynccontextmanager
async def silent_upstream() -> AsyncIterator[str]:
    """A TCP server that accepts and never answers a handshake."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()


def proxied(pattern: str, url: str, **extra: Any) -> dict[str, Any]:
    proxy = {"url": url, **extra.pop("proxy", {})}
    return {"pattern": pattern, "proxy": proxy, **extra}


async def test_messages_go_both_ways_text_and_binary_as_they_are() -> None:
    async with plain_upstream() as base:
        config = {"endpoints": [proxied("/live", f"{base}/hello")]}
        async with run_server(config) as server:
            client = await server.connect("/live")
            assert await client.receive() == "hello from upstream"
            spaced = '{ "a" : 1 }'
            await client.socket.send_str(spaced)
            # Text stays text with its spacing; bytes stay binary (receive gives str or bytes).
            assert await client.receive(5, parse_json=False) == spaced
            await client.socket.send_bytes(b"\x00\x01binary")
            assert await client.receive(5) == b"\x00\x01binary"


async def test_path_parameters_fill_the_url_and_the_query_is_forwarded() -> None:
    async with plain_upstream() as base:
        config = {
            "endpoints": [
                proxied(
                    "/live/{market}",
                    f"{base}/query/{{market}}?fixed=1",
                    proxy={"drop_query": ["secret"]},
                )
            ]
        }
        async with run_server(config) as server:
            client = await server.connect("/live/eu west", query={"a": "1", "secret": "x"})
            assert await client.receive() == "/query/eu%20west?fixed=1&a=1"


async def test_forward_query_false_sends_no_query_and_extra_headers_are_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGING_TOKEN", "t0k")
    async with plain_upstream() as base:
        proxy = {
            "forward_query": False,
            "headers": {"Authorization": "Bearer ${STAGING_TOKEN}"},
        }
        config = {"endpoints": [proxied("/h", f"{base}/headers", proxy=proxy)]}
        async with run_server(config) as server:
            client = await server.connect("/h", query={"a": "1"}, headers={"X-App": "7"})
            headers = await client.receive()
            assert headers["Authorization"] == "Bearer t0k"
            assert headers["X-App"] == "7"
        config = {"endpoints": [proxied("/q", f"{base}/query", proxy={"forward_query": False})]}
        async with run_server(config) as server:
            client = await server.connect("/q", query={"a": "1"})
            assert await client.receive() == "/query"


async def test_the_client_sees_the_subprotocol_the_upstream_chose() -> None:
    async with plain_upstream() as base:
        config = {"endpoints": [proxied("/p", f"{base}/protocol")]}
        async with run_server(config) as server:
            client = await server.connect("/p", protocols=("v1", "v9"))
            assert client.subprotocol == "v1"
            assert await client.receive() == "protocol=v1"
            plain = await server.connect("/p")
            assert plain.subprotocol is None
            assert await plain.receive() == "protocol=None"


async def test_an_upstream_refusal_reaches_the_client_as_its_status() -> None:
    async with plain_upstream() as base:
        config = {"endpoints": [proxied("/f", f"{base}/forbidden")]}
        async with run_server(config) as server:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await server.connect("/f")
            assert refused.value.status == 403


async def test_an_upstream_that_never_answers_closes_the_client_with_1014() -> None:
    async with silent_upstream() as base:
        proxy = {"connect_timeout": "300ms"}
        config = {"endpoints": [proxied("/s", f"{base}/x", proxy=proxy)]}
        async with run_server(config) as server:
            started = time.monotonic()
            client = await server.connect("/s")
            code, reason = await client.expect_close(5)
            assert code == 1014 and reason.startswith("Bad gateway")
            assert 0.25 <= time.monotonic() - started < 3


async def test_an_unreachable_upstream_closes_with_1014() -> None:
    async with silent_upstream() as base:
        dead = base  # the port is closed once the context ends
    config = {"endpoints": [proxied("/d", f"{dead}/x")]}
    async with run_server(config) as server:
        client = await server.connect("/d")
        code, _ = await client.expect_close(5)
        assert code == 1014


async def test_the_upstream_closing_with_4001_is_relayed() -> None:
    async with plain_upstream() as base:
        config = {"endpoints": [proxied("/c", f"{base}/close4001")]}
        async with run_server(config) as server:
            client = await server.connect("/c")
            await client.send("anything")
            assert await client.expect_close(5) == (4001, "upstream says no")


UPSTREAM_HANDLER = """
CLOSED = []

async def on_connect(conn):
    conn.join("all")

async def on_message(conn, data):
    if data == "who":
        await conn.send({"sub": conn.user_id})
    elif data == "shout":
        await conn.broadcast("shouted", rooms=["all"], include_self=True)

async def on_close(conn, code, reason):
    CLOSED.append((code, reason))
"""


async def test_mockws_as_the_upstream_gets_the_token_and_the_client_close_code(
    write: WriteFile,
) -> None:
    write("up.py", UPSTREAM_HANDLER)
    auth = {"jwt": {"secret": SECRET, "algorithms": ["HS256"]}}
    upstream_config = {"endpoints": [{"pattern": "/up", "handler": "up.py", "authenticate": auth}]}
    base_dir = write("x.txt", "").parent
    async with run_server(upstream_config, base_dir=base_dir) as upstream:
        config = {"endpoints": [proxied("/front", f"ws://127.0.0.1:{upstream.port}/up")]}
        async with run_server(config) as server:
            token = sign_token(auth_config(SECRET), {"sub": "alice"}, ttl=60)
            client = await server.connect("/front", query={"token": token})
            await client.send("who")
            assert await client.receive() == {"sub": "alice"}
            view = next(iter(server.hub.connections.values()))
            assert view.upstream is not None and "token=***" in view.upstream
            assert token not in view.upstream
            await client.close(4000, "client done")
            [upstream_conn_closed] = await _closed_on(upstream)
            assert upstream_conn_closed == (4000, "client done")
            # Without the token the upstream refuses with 4001, and the client sees it.
            anonymous = await server.connect("/front")
            code, _ = await anonymous.expect_close(5)
            assert code == 4001


def auth_config(secret: str) -> Any:
    from mockws.config.model import JwtConfig

    return JwtConfig(algorithms=("HS256",), secret=secret)


async def _closed_on(server: Any) -> list[tuple[int, str]]:
    from tests.helpers import eventually, handler_module

    module = handler_module("up")
    await eventually(lambda: bool(module.CLOSED), timeout=5)
    return list(module.CLOSED)


HOOK_HANDLER = """
async def on_upstream_message(conn, data):
    if data == "drop me":
        return None
    if isinstance(data, dict):
        return {**data, "seen_by": "mock"}
    return data
"""


async def test_on_upstream_message_replaces_and_drops(write: WriteFile) -> None:
    write("hook.py", HOOK_HANDLER)
    async with plain_upstream() as base:
        config = {"endpoints": [proxied("/e", f"{base}/echo", handler="hook.py")]}
        async with run_server(config, base_dir=write("x.txt", "").parent) as server:
            client = await server.connect("/e")
            await client.send("drop me")
            await client.send({"n": 1})
            assert await client.receive() == {"n": 1, "seen_by": "mock"}
            await client.expect_no_message(0.3)


def test_upstream_url_fills_quotes_and_filters() -> None:
    proxy = ProxyConfig(url="wss://up.example/{a}/x?k=1", drop_query=("token",))
    assert upstream_url(proxy, {"a": "b/c"}, "token=s&x=2") == "wss://up.example/b%2Fc/x?k=1&x=2"
    assert upstream_url(proxy, {"a": "b"}, "") == "wss://up.example/b/x?k=1"


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ({"url": "http://x"}, "expected a ws:// or wss:// URL"),
        ({"url": "ws://x/{nope}"}, "{nope} is not a parameter of the pattern"),
        ({"url": "ws://x", "connect_timeout": "5 sec"}, "expected a duration"),
        ({"url": "ws://x", "verfy": False}, "verfy"),
    ],
)
def test_proxy_config_errors_name_the_key(proxy: dict[str, Any], message: str) -> None:
    from mockws.config.load import config_from_mapping
    from mockws.errors import ConfigError

    with pytest.raises(ConfigError, match="endpoints\\[0\\].proxy") as caught:
        config_from_mapping({"endpoints": [{"pattern": "/a/{m}", "proxy": proxy}]})
    assert message in str(caught.value)


def test_proxy_and_replay_together_is_a_config_error(tmp_path: Path) -> None:
    from mockws.config.load import config_from_mapping
    from mockws.errors import ConfigError

    recording = tmp_path / "r.jsonl"
    recording.write_text('{"mockws": 1, "conn": "c1"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="either proxies or replays"):
        config_from_mapping(
            {"endpoints": [{"pattern": "/a", "proxy": "ws://x", "replay": str(recording)}]}
        )


async def test_rules_answer_client_messages_locally_and_the_rest_goes_upstream() -> None:
    async with plain_upstream() as base:
        rules = [{"match": {"type": "ping"}, "reply": {"type": "pong", "local": True}}]
        config = {"endpoints": [proxied("/r", f"{base}/echo", rules=rules)]}
        async with run_server(config) as server:
            client = await server.connect("/r")
            await client.send({"type": "ping"})
            assert await client.receive() == {"type": "pong", "local": True}
            await client.send({"type": "other"})
            assert await client.receive() == {"type": "other"}  # echoed by the upstream
            await client.expect_no_message(0.2)


async def test_upstream_rules_replace_drop_and_broadcast_upstream_messages() -> None:
    async with plain_upstream() as base:
        upstream_rules = [
            {"match": {"type": "secret"}, "drop": True},
            {"match": {"type": "price"}, "reply": {"type": "price", "v": "{{ data.v * 2 }}"}},
            {
                "match": {"type": "news"},
                "broadcast": {"type": "news", "text": "{{ data.text }}"},
                "rooms": ["watchers"],
            },
        ]
        config = {
            "endpoints": [
                proxied(
                    "/u",
                    f"{base}/echo",
                    upstream_rules=upstream_rules,
                    on_connect=[{"join": "watchers"}],
                )
            ]
        }
        async with run_server(config) as server:
            client, other = await server.connect("/u"), await server.connect("/u")
            await client.send({"type": "secret"})
            await client.send({"type": "price", "v": 21})
            assert await client.receive() == {"type": "price", "v": 42}
            await client.send({"type": "news", "text": "hi"})
            assert await other.receive() == {"type": "news", "text": "hi"}
            assert await client.receive() == {"type": "news", "text": "hi"}
            await client.send("plain")
            assert await client.receive() == "plain"


def test_upstream_rules_need_a_proxy_and_drop_must_be_true() -> None:
    from mockws.config.load import config_from_mapping
    from mockws.errors import ConfigError

    rule = {"match": {"a": 1}, "drop": True}
    with pytest.raises(ConfigError, match="only a proxied endpoint has an upstream"):
        config_from_mapping(
            {"endpoints": [{"pattern": "/a", "rules": [], "upstream_rules": [rule]}]}
        )
    bad = {"match": {"a": 1}, "drop": "yes"}
    with pytest.raises(ConfigError, match=r"upstream_rules\[0\]\.drop: expected true"):
        config_from_mapping(
            {"endpoints": [{"pattern": "/a", "proxy": "ws://x", "upstream_rules": [bad]}]}
        )
