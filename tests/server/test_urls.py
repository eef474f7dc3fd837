"""Hosts as they stand in URLs (mockws/server/urls.py)."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from mockws.config import config_from_mapping
from mockws.server.app import MockServer
from mockws.server.urls import url_host

from ..helpers import WriteFile, endpoint


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "0.0.0.0", "localhost", "example.com", "192.168.1.2", ""]
)
def test_names_and_ipv4_addresses_are_unchanged(host: str) -> None:
    """A host without a colon goes into a URL as it is."""
    assert url_host(host) == host


@pytest.mark.parametrize(
    ("host", "in_url"),
    [
        ("::1", "[::1]"),
        ("::", "[::]"),
        ("fe80::1", "[fe80::1]"),
        ("2001:db8::8a2e:370:7334", "[2001:db8::8a2e:370:7334]"),
    ],
)
def test_ipv6_addresses_get_brackets(host: str, in_url: str) -> None:
    """An IPv6 address is written in brackets (RFC 3986 3.2.2)."""
    assert url_host(host) == in_url


def test_a_bracketed_address_is_not_bracketed_twice() -> None:
    """A host already in brackets comes back unchanged."""
    assert url_host("[::1]") == "[::1]"


def test_url_host_is_idempotent() -> None:
    """Applying url_host twice gives what applying it once gives."""
    for host in ("::1", "127.0.0.1", "[::1]", "localhost"):
        assert url_host(url_host(host)) == url_host(host)


def ipv6_loopback_available() -> bool:
    """Whether this machine can bind a socket to ::1."""
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_a_server_on_ipv6_prints_a_url_that_connects(write: WriteFile) -> None:
    """A server bound to ::1 gives a ws://[::1]:port/ URL a client can open."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = config_from_mapping(
        {"host": "::1", "port": 0, "reload": False, "endpoints": [endpoint("/echo", "echo.py")]},
        base_dir=write("x", "").parent,
    )
    server = MockServer(config)
    await server.start()
    try:
        url = server.url("/echo")
        assert url == f"ws://[::1]:{server.port}/echo"
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(url) as client:
                await client.send_str("over ipv6")
                assert (await client.receive(timeout=5)).data == "over ipv6"
    finally:
        await server.stop()
