"""Connection lifecycle, handler errors and HTTP answers over real sockets."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockws.testing import run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint, eventually, handler_module


def base(write: WriteFile) -> Path:
    return write("x.txt", "").parent


async def test_lifecycle_order_and_close_details(write: WriteFile) -> None:
    """Hooks run in the documented order; on_close sees the code, reason and rooms."""
    write(
        "order_handler.py",
        """
        LOG = []
        async def on_connect(conn):
            LOG.append(("connect", conn.id in conn.hub.connections))
            conn.join("r")
        def on_message(conn, data):
            LOG.append(("message", data))
        async def on_close(conn, code, reason):
            LOG.append(("close", code, reason, sorted(conn.rooms), conn.closed,
                        conn.id in conn.hub.connections))
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/o", "order_handler.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/o")
        await client.send({"n": 1})
        await client.send("two")
        await client.close(4001, "done")
        module = handler_module("order_handler")
        await eventually(lambda: len(module.LOG) == 4)
        assert module.LOG == [
            ("connect", True),
            ("message", {"n": 1}),
            ("message", "two"),
            ("close", 4001, "done", ["r"], True, True),
        ]
        await eventually(lambda: not server.hub.connections and not server.hub.rooms)


async def test_unknown_path_is_404_and_plain_get_is_426(write: WriteFile) -> None:
    """An upgrade to an unknown path or outside the prefix gets 404; a plain GET gets 426."""
    write("h.py", "")
    config = {"prefix": "/api", "endpoints": [endpoint("/ws/chat", "h.py")]}
    async with run_server(config, base_dir=base(write)) as server, aiohttp.ClientSession() as http:
        for path in ("/api/ws/nope", "/ws/chat"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await http.ws_connect(f"http://127.0.0.1:{server.port}{path}")
            assert caught.value.status == 404
        async with http.get(f"http://127.0.0.1:{server.port}/api/ws/chat") as response:
            assert response.status == 426
            assert response.headers["Upgrade"] == "websocket"
            assert "WebSocket endpoint" in await response.text()
        async with http.get(f"http://127.0.0.1:{server.port}/elsewhere") as response:
            assert response.status == 404
            assert "/api/ws/chat" in await response.text()
        client = await server.connect("/ws/chat")
        assert not client.closed


async def test_on_message_error_is_logged_and_connection_stays(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception in on_message is logged with its traceback; the connection keeps working."""
    write(
        "raising.py",
        """
        async def on_message(conn, data):
            if data == "boom":
                raise ValueError("handler bug")
            await conn.send(data)
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/r", "raising.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/r")
        other = await server.connect("/r")
        with caplog.at_level(logging.ERROR, logger="mockws"):
            await client.send("boom")
            await client.send("after")
            assert await client.receive() == "after"
        records = [r for r in caplog.records if "on_message raised" in r.getMessage()]
        assert len(records) == 1 and records[0].exc_info is not None
        assert "handler bug" in str(records[0].exc_info[1])
        await other.send("still serving")
        assert await other.receive() == "still serving"


async def test_on_error_receives_hook_exceptions(write: WriteFile) -> None:
    """With on_error defined, exceptions from on_connect and on_message go to it."""
    write(
        "with_on_error.py",
        """
        async def on_connect(conn):
            raise KeyError("connect")
        async def on_message(conn, data):
            raise RuntimeError(data)
        async def on_error(conn, error):
            await conn.send({"error": type(error).__name__, "text": str(error)})
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/e", "with_on_error.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/e")
        assert await client.receive_json() == {"error": "KeyError", "text": "'connect'"}
        await client.send("m1")
        assert await client.receive_json() == {"error": "RuntimeError", "text": "m1"}


async def test_on_connect_error_without_on_error_closes_1011(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """An on_connect exception with no on_error closes the connection with 1011."""
    write(
        "bad_connect.py",
        """
        CLOSED = []
        async def on_connect(conn):
            raise RuntimeError("cannot start")
        async def on_message(conn, data):
            raise AssertionError("no message may arrive")
        def on_close(conn, code, reason):
            CLOSED.append(code)
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/c", "bad_connect.py")]}, base_dir=base(write)
    ) as server:
        with caplog.at_level(logging.ERROR, logger="mockws"):
            client = await server.connect("/c")
            assert await client.expect_close() == (1011, "Internal error")
        assert any("on_connect raised" in r.getMessage() and r.exc_info for r in caplog.records)
        await eventually(lambda: handler_module("bad_connect").CLOSED == [1011])


async def test_binary_text_and_json_round_trip(write: WriteFile) -> None:
    """Binary arrives as bytes, JSON text parsed, other text as str; replies keep their type."""
    write(
        "types_echo.py",
        """
        async def on_message(conn, data):
            await conn.send({"type": type(data).__name__})
            await conn.send(data)
    """,
    )
    config = {
        "endpoints": [
            endpoint("/t", "types_echo.py"),
            endpoint("/raw", "types_echo.py", parse_json=False),
        ]
    }
    async with run_server(config, base_dir=base(write)) as server:
        client = await server.connect("/t")
        payload = bytes(range(256)) * 4
        await client.send(payload)
        assert await client.receive_json() == {"type": "bytes"}
        assert await client.receive() == payload
        await client.send('{"a": [1, 2]}')
        assert await client.receive_json() == {"type": "dict"}
        assert await client.receive_json() == {"a": [1, 2]}
        await client.send("not json {")
        assert await client.receive_json() == {"type": "str"}
        assert await client.receive(parse_json=False) == "not json {"
        raw = await server.connect("/raw")
        await raw.send('{"a": 1}')
        assert await raw.receive_json() == {"type": "str"}
        assert await raw.receive(parse_json=False) == '{"a": 1}'


async def test_thousand_messages_handled_in_order_one_at_a_time(write: WriteFile) -> None:
    """Messages of one connection run one at a time, in arrival order."""
    write(
        "ordered.py",
        """
        import asyncio, random
        IN_FLIGHT = [0]
        MAX_IN_FLIGHT = [0]
        async def on_message(conn, data):
            IN_FLIGHT[0] += 1
            MAX_IN_FLIGHT[0] = max(MAX_IN_FLIGHT[0], IN_FLIGHT[0])
            if random.random() < 0.1:
                await asyncio.sleep(0.001)
            IN_FLIGHT[0] -= 1
            await conn.send(data)
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/o", "ordered.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/o")
        for index in range(1000):
            await client.send({"i": index})
        received = [(await client.receive_json())["i"] for _ in range(1000)]
        assert received == list(range(1000))
        assert handler_module("ordered").MAX_IN_FLIGHT == [1]


async def test_connection_attributes(write: WriteFile) -> None:
    """id, endpoint, path, params, query and subprotocol describe the connection."""
    write("commands.py", COMMAND_HANDLER)
    config = {
        "endpoints": [
            endpoint("/rooms/{room}/{user}", "commands.py", subprotocols=["chat.v2", "chat.v1"])
        ]
    }
    async with run_server(config, base_dir=base(write)) as server:
        first = await server.connect(
            "/rooms/lobby/ann", query={"x": "1"}, protocols=("chat.v1", "chat.v2")
        )
        assert first.subprotocol == "chat.v1"
        info = await command(first, op="info")
        assert info == {
            "id": info["id"],
            "endpoint": "/rooms/{room}/{user}",
            "path": "/rooms/lobby/ann",
            "params": {"room": "lobby", "user": "ann"},
            "query": {"x": "1"},
            "rooms": [],
            "subprotocol": "chat.v1",
            "hub_rooms": {},
            "connections": [info["id"]],
        }
        second = await server.connect("/rooms/lobby/bob", protocols=("other",))
        second_info = await command(second, op="info")
        assert second_info["id"] != info["id"] and second_info["subprotocol"] is None
        assert second.subprotocol is None


async def test_send_after_close_returns_false(write: WriteFile) -> None:
    """send on a closed connection does nothing and returns False."""
    write(
        "late_send.py",
        """
        RESULTS = []
        async def on_close(conn, code, reason):
            RESULTS.append(await conn.send("too late"))
        async def on_message(conn, data):
            RESULTS.append(await conn.send("ok"))
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/l", "late_send.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/l")
        await client.send("x")
        assert await client.receive() == "ok"
        await client.close()
        await eventually(lambda: handler_module("late_send").RESULTS == [True, False])


async def test_oversized_message_closes_1009(write: WriteFile) -> None:
    """A message over max_message_size closes the connection with 1009."""
    write(
        "small.py",
        """
        CODES = []
        async def on_message(conn, data):
            await conn.send("got it")
        async def on_close(conn, code, reason):
            CODES.append(code)
    """,
    )
    config = {"endpoints": [endpoint("/s", "small.py", max_message_size=100)]}
    async with run_server(config, base_dir=base(write)) as server:
        client = await server.connect("/s")
        await client.send("x" * 100)
        assert await client.receive() == "got it"
        await client.send("x" * 101)
        code, _ = await client.expect_close()
        assert code == 1009
        await eventually(lambda: handler_module("small").CODES != [])
        assert handler_module("small").CODES == [1009]


async def test_shutdown_closes_1001_and_runs_on_close(write: WriteFile) -> None:
    """Stopping the server closes every connection with 1001 after running on_close."""
    write(
        "shutdown.py",
        """
        CLOSED = []
        def on_close(conn, code, reason):
            CLOSED.append((code, reason))
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/s", "shutdown.py")]}, base_dir=base(write)
    ) as server:
        clients = [await server.connect("/s") for _ in range(3)]
        waits = [asyncio.create_task(client.expect_close()) for client in clients]
        await asyncio.sleep(0.05)
        await server.server.stop()
        assert [await wait for wait in waits] == [(1001, "Server shutting down")] * 3
        assert handler_module("shutdown").CLOSED == [(1001, "Server shutting down")] * 3


async def test_background_task_runs_and_is_cancelled(write: WriteFile, caplog: Any) -> None:
    """background(hub) starts with the server, pushes, and is cancelled on shutdown."""
    write(
        "ticker.py",
        """
        import asyncio
        STATE = {"cancelled": False}
        async def on_connect(conn):
            conn.join("ticks")
        async def background(hub):
            n = 0
            try:
                while True:
                    await asyncio.sleep(0.02)
                    n += 1
                    await hub.broadcast({"tick": n}, rooms="ticks")
            except asyncio.CancelledError:
                STATE["cancelled"] = True
                raise
    """,
    )
    async with run_server(
        {"endpoints": [endpoint("/t", "ticker.py")]}, base_dir=base(write)
    ) as server:
        client = await server.connect("/t")
        first = (await client.receive_json())["tick"]
        second = (await client.receive_json())["tick"]
        assert second == first + 1
        module = handler_module("ticker")
        assert module.STATE["cancelled"] is False
    assert module.STATE["cancelled"] is True


async def test_refused_origin_gets_403(write: WriteFile) -> None:
    """A browser page from another site is refused before the upgrade."""
    write("h.py", "")
    async with run_server({"endpoints": [endpoint("/o", "h.py")]}, base_dir=base(write)) as server:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await server.connect("/o", headers={"Origin": "https://evil.example"})
        assert caught.value.status == 403
        ok = await server.connect("/o", headers={"Origin": "http://localhost:5173"})
        assert not ok.closed
