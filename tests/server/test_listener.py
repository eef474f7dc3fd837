"""Header size (431) and handshake timeout at the listening socket (mockws/server/listener.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from mockws.testing import run_server

from ..helpers import WriteFile, endpoint
from ..rawws import RawClient, upgrade_request

ECHO = "async def on_message(conn, data):\n    await conn.send(data)\n"


def echo_config(write: WriteFile, **limits: object) -> tuple[dict[str, object], Path]:
    base = write("echo_handler.py", ECHO).parent
    config: dict[str, object] = {"endpoints": [endpoint("/echo", "echo_handler.py")]}
    if limits:
        config["limits"] = limits
    return config, base


async def test_oversized_headers_get_431(write: WriteFile, raw_clients: object) -> None:
    """Headers past max_header_size, in one line or many, get 431; others keep being served."""
    config, base = echo_config(write, max_header_size=4096)
    async with run_server(config, base_dir=base) as server:
        other = await server.connect("/echo")
        for extra in (
            f"X-Big: {'a' * 5000}\r\n",
            "".join(f"X-Many-{n}: {'b' * 100}\r\n" for n in range(50)),
        ):
            raw = await RawClient.open(server.port)
            await raw.send(upgrade_request("/echo", server.port, extra))
            head = await raw.read_head()
            assert head.startswith("HTTP/1.1 431 Request Header Fields Too Large"), head
            assert await raw.at_eof()
        await other.send("still here")
        assert await other.receive() == "still here"


async def test_long_header_under_the_limit_is_accepted(
    write: WriteFile, raw_clients: object
) -> None:
    """A 12 KiB header line, which aiohttp alone would refuse with 400, passes the default limit."""
    config, base = echo_config(write)
    async with run_server(config, base_dir=base) as server:
        raw = await RawClient.open(server.port)
        await raw.send(upgrade_request("/echo", server.port, f"Cookie: {'c' * 12000}\r\n"))
        assert (await raw.read_head()).startswith("HTTP/1.1 101")
        await raw.close()


async def test_plain_request_with_huge_headers_gets_431(
    write: WriteFile, raw_clients: object
) -> None:
    """The header limit holds for any request, not only upgrades, even sent byte by byte."""
    config, base = echo_config(write, max_header_size=1024)
    async with run_server(config, base_dir=base) as server:
        raw = await RawClient.open(server.port)
        request = b"GET /other HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 2000 + b"\r\n\r\n"
        for start in range(0, 1100, 100):
            await raw.send(request[start : start + 100])
        assert (await raw.read_head()).startswith("HTTP/1.1 431")


async def test_silent_and_slow_handshakes_time_out(write: WriteFile, raw_clients: object) -> None:
    """A connection that sends nothing, or never finishes its headers, is closed at the timeout."""
    config, base = echo_config(write, handshake_timeout=0.3)
    async with run_server(config, base_dir=base) as server:
        silent = await RawClient.open(server.port)
        partial = await RawClient.open(server.port)
        await partial.send(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        assert await silent.at_eof(timeout=3) and await partial.at_eof(timeout=3)
        assert 0.2 < time.monotonic() - started < 2.5
        client = await server.connect("/echo")
        await asyncio.sleep(0.6)
        await client.send("idle sockets stay open")
        assert await client.receive() == "idle sockets stay open"
