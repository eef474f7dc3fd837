"""The Origin policy (mockws/server/handshake.py), alone and on real upgrades."""

from pathlib import Path

import pytest

from mockws.config import Config, config_from_mapping
from mockws.server.handshake import origin_allowed
from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint
from ..rawws import raw_connect


@pytest.mark.parametrize(
    "origin",
    [None, "http://localhost:5173", "https://127.0.0.1", "http://[::1]:3000", "HTTP://LOCALHOST"],
)
def test_default_allows_loopback_and_no_origin(origin: str | None) -> None:
    """By default, browsers on loopback pages and non-browser clients may connect."""
    assert origin_allowed(origin, None)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "file://",
        "http://localhost.evil.com",
        "ftp://localhost",
        "http://localhost:99999",
    ],
)
def test_default_refuses_other_sites(origin: str) -> None:
    """By default, any other page's origin is refused."""
    assert not origin_allowed(origin, None)


def test_explicit_list_and_wildcard() -> None:
    """A list allows exactly its entries; '*' allows all."""
    allowed = ["http://localhost:5173", "https://app.test/"]
    assert origin_allowed("https://app.test", allowed)
    assert not origin_allowed("http://localhost:5174", allowed)
    assert origin_allowed("https://anything.example", ["*"])


async def status_for(server: RunningServer, origin: str | None) -> int:
    """The HTTP status of an upgrade to /o sent with ``origin`` (None: no Origin header)."""
    headers = {} if origin is None else {"Origin": origin}
    client = await raw_connect(server.port, "/o", headers)
    await client.close()
    return client.status


async def test_configured_origins_over_real_sockets(project: Path, write: WriteFile) -> None:
    """A page from a listed origin upgrades; any other page gets 403; no Origin passes."""
    write("h.py", "")
    config = {
        "allowed_origins": ["http://localhost:5173", "https://app.example.com"],
        "endpoints": [endpoint("/o", "h.py")],
    }
    async with run_server(config, base_dir=project) as server:
        assert await status_for(server, "http://localhost:5173") == 101
        assert await status_for(server, "https://app.example.com") == 101
        assert await status_for(server, None) == 101
        for refused in ("http://localhost:3000", "https://evil.example", "null"):
            assert await status_for(server, refused) == 403, refused
        assert not server.hub.connections


async def test_default_refuses_file_pages_and_other_sites(project: Path, write: WriteFile) -> None:
    """By default a file:// page ("null") and a remote site are refused, loopback pages pass."""
    write("h.py", "")
    async with run_server({"endpoints": [endpoint("/o", "h.py")]}, base_dir=project) as server:
        assert await status_for(server, "http://127.0.0.1:8080") == 101
        assert await status_for(server, "http://[::1]:5173") == 101
        assert await status_for(server, "null") == 403
        assert await status_for(server, "https://attacker.example") == 403


async def test_wildcard_allows_every_origin(project: Path, write: WriteFile) -> None:
    """allowed_origins: ["*"] lets any page connect."""
    write("h.py", "")
    config = {"allowed_origins": ["*"], "endpoints": [endpoint("/o", "h.py")]}
    async with run_server(config, base_dir=project) as server:
        assert await status_for(server, "https://anything.example") == 101
        assert await status_for(server, "null") == 101


def test_host_defaults_to_loopback() -> None:
    """Without host, the server binds 127.0.0.1 only, so other machines cannot connect."""
    assert config_from_mapping({}).host == "127.0.0.1"
    assert Config().host == "127.0.0.1"
