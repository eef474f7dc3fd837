"""every: timers that run only while the endpoint has connections (mockws/hooks/timed.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from mockws.config import config_from_mapping
from mockws.testing import run_server

from ..helpers import eventually


def ticker(interval: str = "100ms", **extra: Any) -> dict[str, Any]:
    every = [{"interval": interval, "broadcast": {"type": "tick", "n": "{{ seq }}"}, **extra}]
    return {"endpoints": [{"pattern": "/t", "every": every, "rules": [{"reply": "r"}]}]}


async def test_timers_run_only_while_the_endpoint_has_connections() -> None:
    """No connection, no ticks; the first connection starts them, the last one stops them."""
    async with run_server(ticker()) as server:
        book = server.server.books["/t"]
        await asyncio.sleep(0.3)
        assert not book.timers.running and book.timers.seq(0) == 0
        client = await server.connect("/t")
        assert book.timers.running
        ticks = [await client.receive(timeout=2) for _ in range(3)]
        assert ticks == [{"type": "tick", "n": n} for n in (1, 2, 3)]
        await client.close()
        await eventually(lambda: not book.timers.running)
        stopped_at = book.timers.seq(0)
        await asyncio.sleep(0.3)
        assert book.timers.seq(0) == stopped_at
        again = await server.connect("/t")
        first = await again.receive(timeout=2)
        assert first["n"] == stopped_at + 1  # seq goes on counting across stops


async def test_send_in_a_timed_push_goes_to_each_connection() -> None:
    """send in every renders per connection (conn.id differs); rooms restrict a broadcast."""
    config = {
        "endpoints": [
            {
                "pattern": "/t",
                "on_connect": [{"join": "prices"}],
                "every": [
                    {"interval": "100ms", "send": {"to": "{{ conn.id }}", "n": "{{ seq }}"}},
                ],
            }
        ]
    }
    async with run_server(config) as server:
        first = await server.connect("/t")
        second = await server.connect("/t")
        got_first = {(await first.receive(timeout=2))["to"] for _ in range(3)}
        got_second = {(await second.receive(timeout=2))["to"] for _ in range(3)}
        assert got_first == {"c1"} and got_second == {"c2"}


async def test_an_unchanged_timer_survives_a_reload_and_a_changed_one_restarts() -> None:
    """Editing the rules keeps the timer and its seq; changing the interval makes a new timer."""
    async with run_server(ticker()) as server:
        book = server.server.books["/t"]
        client = await server.connect("/t")
        await client.receive(timeout=2)
        await client.receive(timeout=2)
        before = book.timers.seq(0)
        edited = ticker()
        edited["endpoints"][0]["rules"] = [{"reply": "edited"}]
        config = replace(config_from_mapping(edited), port=server.port)
        await server.server.apply_config(config)
        assert server.server.books["/t"] is book
        assert book.timers.seq(0) >= before  # same timer, same count
        ticks = [(await client.receive(timeout=2))["n"] for _ in range(2)]
        # A restarted timer would count from 1 again; this one goes on (ticks 1, 2 were read).
        assert ticks[0] >= 3 and ticks[1] == ticks[0] + 1
        changed = replace(config_from_mapping(ticker("150ms")), port=server.port)
        await server.server.apply_config(changed)
        await eventually(lambda: book.timers.seq(0) >= 1, timeout=3)
        assert book.timers.seq(0) <= 2
        assert not client.closed


async def test_a_render_error_in_a_timer_is_logged_once_and_the_timer_goes_on(
    caplog: Any,
) -> None:
    """A timed push whose template fails logs once, and keeps ticking."""
    config = {
        "endpoints": [
            {
                "pattern": "/t",
                "every": [{"interval": "50ms", "broadcast": "{{ (seq // (seq - seq)) }}"}],
            }
        ]
    }
    async with run_server(config) as server:
        book = server.server.books["/t"]
        await server.connect("/t")
        await eventually(lambda: book.timers.seq(0) >= 4, timeout=3)
    errors = [r for r in caplog.records if r.name == "mockws.rules"]
    assert len(errors) == 1 and "ZeroDivisionError" in errors[0].getMessage()
    assert "endpoints[0].every[0].broadcast" in errors[0].getMessage()
