"""Per-connection scripts: send, expect (match and timeout), wait (mockws/hooks/scripts.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mockws.testing import MockClient, run_server


def script_config(script: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"endpoints": [{"pattern": "/s", "script": script, **extra}]}


LOGIN = [
    {"send": {"type": "hello"}},
    {
        "expect": {
            "match": {"type": "login"},
            "when": "{{ data.user | length > 0 }}",
            "timeout": "500ms",
            "else": {"close": {"code": 4008, "reason": "login timeout"}},
        }
    },
    {"wait": "100ms"},
    {"send": {"type": "welcome", "user": "{{ data.user }}", "rows": "{{ [1, 2, 3] }}"}},
]


async def close_code(client: MockClient) -> int | None:
    with pytest.raises(ConnectionError):
        for _ in range(10):
            await client.receive()
    return client.socket.close_code


async def test_expect_takes_the_matching_message_and_gives_it_as_data() -> None:
    """The message expect takes is data for the steps after it; wait pauses between."""
    async with run_server(script_config(LOGIN, rules=[{"reply": "rule"}])) as server:
        client = await server.connect("/s")
        assert await client.receive() == {"type": "hello"}
        await client.send({"type": "other"})
        assert await client.receive() == "rule"  # not expected: it goes on to the rules
        await client.send({"type": "login", "user": ""})
        assert await client.receive() == "rule"  # when is false: not taken
        started = time.monotonic()
        await client.send({"type": "login", "user": "ada"})
        welcome = await client.receive()
        assert welcome == {"type": "welcome", "user": "ada", "rows": [1, 2, 3]}
        assert time.monotonic() - started >= 0.09


async def test_expect_timeout_runs_else() -> None:
    """Nothing expected arrives in time: the else steps run (here a close with 4008)."""
    async with run_server(script_config(LOGIN)) as server:
        client = await server.connect("/s")
        assert await client.receive() == {"type": "hello"}
        started = time.monotonic()
        assert await close_code(client) == 4008
        assert 0.45 <= time.monotonic() - started < 3
        assert client.socket.close_code == 4008


async def test_each_connection_runs_its_own_script() -> None:
    """Two connections, two independent runs."""
    async with run_server(script_config(LOGIN)) as server:
        first, second = await server.connect("/s"), await server.connect("/s")
        for client in (first, second):
            assert await client.receive() == {"type": "hello"}
        await second.send({"type": "login", "user": "bo"})
        assert (await second.receive())["user"] == "bo"
        assert await close_code(first) == 4008
