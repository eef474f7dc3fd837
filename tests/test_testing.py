"""The test helpers: run_server, RunningServer and MockClient (mockws/testing.py)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from mockws.testing import run_server

from .helpers import WriteFile, endpoint

ECHO = "async def on_message(conn, data):\n    await conn.send(data)\n"
CLOSER = "async def on_message(conn, data):\n    await conn.close(4002, 'go away')\n"


async def test_receive_decodes_as_the_endpoint_does(write: WriteFile) -> None:
    """receive parses JSON text unless the endpoint sets parse_json: false; binary is bytes."""
    write("echo.py", ECHO)
    config = {
        "endpoints": [
            endpoint("/json", "echo.py"),
            endpoint("/raw/{x}", "echo.py", parse_json=False),
        ]
    }
    async with run_server(config, base_dir=write("x", "").parent) as server:
        parsed = await server.connect("/json")
        raw = await server.connect("/raw/1?q=1")
        for client in (parsed, raw):
            await client.send('{"a": 1}')
            await client.send(b"\x01")
        assert [await parsed.receive(), await parsed.receive()] == [{"a": 1}, b"\x01"]
        assert [await raw.receive(), await raw.receive()] == ['{"a": 1}', b"\x01"]
        await raw.send("[1]")
        assert await raw.receive(parse_json=True) == [1]


async def test_waits_time_out_with_the_default_timeout(write: WriteFile) -> None:
    """receive and expect_close give up after the client's default timeout."""
    write("echo.py", ECHO)
    async with run_server(
        {"endpoints": [endpoint("/e", "echo.py")]}, base_dir=write("x", "").parent, timeout=0.1
    ) as server:
        client = await server.connect("/e")
        started = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await client.receive()
        with pytest.raises(TimeoutError):
            await client.expect_close()
        elapsed = asyncio.get_running_loop().time() - started
        assert 0.2 <= elapsed < 1.5


async def test_expect_no_message_fails_when_something_arrives(write: WriteFile) -> None:
    """expect_no_message passes on silence and names the message that broke it."""
    write("echo.py", ECHO)
    async with run_server(
        {"endpoints": [endpoint("/e", "echo.py")]}, base_dir=write("x", "").parent
    ) as server:
        client = await server.connect("/e")
        await client.expect_no_message(within=0.05)
        await client.send("boo")
        with pytest.raises(AssertionError, match="expected no message, got 'boo'"):
            await client.expect_no_message(within=1)


async def test_expect_close_and_context_manager(write: WriteFile) -> None:
    """expect_close returns the server's code and reason; `async with` closes the client."""
    write("closer.py", CLOSER)
    write("echo.py", ECHO)
    config = {"endpoints": [endpoint("/c", "closer.py"), endpoint("/e", "echo.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as server:
        client = await server.connect("/c")
        await client.send("x")
        assert await client.expect_close() == (4002, "go away")
        async with await server.connect("/e") as scoped:
            assert not scoped.closed
        assert scoped.closed


async def test_http_url_reaches_the_admin_api(write: WriteFile) -> None:
    """http_url points at the same server, for the admin API or plain GETs."""
    write("echo.py", ECHO)
    async with (
        run_server(
            {"endpoints": [endpoint("/e", "echo.py")]}, base_dir=write("x", "").parent
        ) as server,
        aiohttp.ClientSession() as http,
    ):
        await server.connect("/e")
        async with http.get(server.http_url("/__mockws/api/connections")) as response:
            assert [c["id"] for c in (await response.json())["connections"]] == ["c1"]
