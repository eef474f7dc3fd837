"""TLS: the local CA and its localhost certificate, and wss:// / https:// (mockws/server/tls.py)."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
import websockets
from cryptography import x509

from mockws.config.load import config_from_mapping
from mockws.errors import ConfigError
from mockws.server.tls import cache_dir, client_ssl_context, local_certificate
from mockws.testing import run_server

from ..browser import chromium_missing, open_page
from ..helpers import WriteFile, endpoint, killed_on_exit, start_serve

ECHO = "async def on_message(conn, data):\n    await conn.send({'echo': data})\n"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG cache folder, so tests never touch the user's ~/.cache/mockws."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "mockws"


def test_cache_dir_follows_xdg_cache_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """$XDG_CACHE_HOME/mockws, else ~/.cache/mockws."""
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cache_dir() == Path("/somewhere/mockws")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "mockws"


def test_local_certificate_is_made_once_then_reused(cache: Path) -> None:
    """The CA and a localhost/127.0.0.1/::1 certificate; keys private; a second call reuses them."""
    first = local_certificate()
    assert first.created and first.ca.parent == cache
    cert = x509.load_pem_x509_certificate(first.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    for key in (first.key, cache / "ca-key.pem"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = {path: path.read_bytes() for path in cache.iterdir()}
    second = local_certificate()
    assert not second.created and second == type(first)(first.ca, first.cert, first.key, False)
    assert {path: path.read_bytes() for path in cache.iterdir()} == before


def test_a_lost_server_certificate_is_reissued_by_the_same_ca(cache: Path) -> None:
    """A CA the user already trusts is kept when only the server certificate is missing."""
    first = local_certificate()
    ca = first.ca.read_bytes()
    first.cert.unlink()
    again = local_certificate()
    assert again.created and again.ca.read_bytes() == ca
    context = client_ssl_context(again.ca)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_tls_key_is_validated_with_file_and_line(write: WriteFile, project: Path) -> None:
    """tls: {cert, key}: paths resolve against the config folder; bad files and keys are named."""
    write("cert.pem", "x")
    config = config_from_mapping({"tls": {"cert": "cert.pem"}}, base_dir=project)
    assert config.tls is not None and config.tls.cert == project / "cert.pem"
    with pytest.raises(ConfigError, match=r"tls.key: no such file: .*nope.pem"):
        config_from_mapping({"tls": {"cert": "cert.pem", "key": "nope.pem"}}, base_dir=project)
    with pytest.raises(ConfigError, match=r"tls.cret: unknown key \(did you mean 'cert'\?\)"):
        config_from_mapping({"tls": {"cret": "cert.pem"}}, base_dir=project)
    with pytest.raises(ConfigError, match=r"tls: expected a mapping \{cert, key\}"):
        config_from_mapping({"tls": True}, base_dir=project)


async def test_a_bad_certificate_is_a_config_error_at_start(
    write: WriteFile, project: Path
) -> None:
    """A file that is not a certificate fails the start with an error naming tls."""
    write("echo.py", ECHO)
    write("cert.pem", "not a certificate")
    config = {"tls": {"cert": "cert.pem"}, "endpoints": [endpoint("/ws", "echo.py")]}
    with pytest.raises(ConfigError, match="tls: cannot use the certificate and key"):
        async with run_server(config, base_dir=project):
            pass


async def test_wss_and_https_with_real_tls_clients(
    cache: Path, write: WriteFile, project: Path
) -> None:
    """websockets and aiohttp, trusting only the local CA, reach the endpoint and the admin API."""
    write("echo.py", ECHO)
    config = {"endpoints": [endpoint("/ws", "echo.py")]}
    async with run_server(config, base_dir=project, tls=True) as server:
        url = server.url("/ws")
        assert url.startswith("wss://127.0.0.1:")
        trusting = client_ssl_context(cache / "ca.pem")
        for host in ("127.0.0.1", "localhost"):
            async with websockets.connect(url.replace("127.0.0.1", host), ssl=trusting) as ws:
                await ws.send('{"a": 1}')
                assert await asyncio.wait_for(ws.recv(), 5) == '{"echo":{"a":1}}'
        client = await server.connect("/ws")
        await client.send("hi")
        assert await client.receive() == {"echo": "hi"}
        async with aiohttp.ClientSession() as http:
            api = server.http_url("/__mockws/api/connections")
            assert api.startswith("https://")
            async with http.get(api, ssl=trusting) as reply:
                assert reply.status == 200
                assert [c["endpoint"] for c in (await reply.json())["connections"]] == ["/ws"]
            # Without the CA the certificate is not trusted; plain ws:// gets no WebSocket.
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await http.get(api)
            with pytest.raises(aiohttp.ClientError):
                await http.ws_connect(url.replace("wss://", "ws://"))


async def test_serve_tls_prints_wss_urls_and_the_ca(
    cache: Path, write: WriteFile, project: Path
) -> None:
    """serve --tls: wss:// and https:// URLs, the CA's path with a hint; reused on the next run."""
    write("echo.py", ECHO)
    write("mockws.yaml", "endpoints:\n  - pattern: /ws\n    handler: echo.py\n")
    for made in ("made", "reusing"):
        process, lines = await start_serve("--tls", "--port", "0", "--no-reload", cwd=project)
        async with killed_on_exit(process):
            text = "\n".join(lines)
            assert f"{made} a localhost certificate from the local CA {cache / 'ca.pem'}" in text
            assert "trust that file once" in text
            url = re.search(r"wss://\S+/ws", text)
            assert url is not None and re.search(r"inspector at https://\S+/__mockws/", text)
            trusting = client_ssl_context(cache / "ca.pem")
            async with websockets.connect(url.group(0), ssl=trusting) as ws:
                await ws.send("x")
                assert await asyncio.wait_for(ws.recv(), 5) == '{"echo":"x"}'
            process.terminate()
            assert await asyncio.wait_for(process.wait(), 10) == 0


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
async def test_chromium_uses_wss_and_the_inspector_over_https(
    cache: Path, write: WriteFile, project: Path
) -> None:
    """An https page opens wss:// (no mixed content); the inspector's feed works over TLS."""
    from playwright.async_api import expect

    write("echo.py", ECHO)
    config = {"endpoints": [endpoint("/ws", "echo.py")]}
    async with run_server(config, base_dir=project, tls=True) as server:
        async with open_page(ignore_https_errors=True) as page:
            await page.goto(server.http_url("/__mockws/"))
            await expect(page.locator("#status")).to_have_text("live")
            reply = await page.evaluate(
                """(url) => new Promise((resolve, reject) => {
                    const ws = new WebSocket(url);
                    ws.onopen = () => ws.send("from chromium");
                    ws.onmessage = (event) => { resolve(event.data); ws.close(); };
                    ws.onerror = () => reject(new Error("wss failed"));
                })""",
                server.url("/ws"),
            )
            assert reply == '{"echo":"from chromium"}'
            log = page.locator("#log")
            await expect(log.locator(".row.in", has_text="from chromium")).to_have_count(1)
            await server.expect_message("from chromium")


async def test_an_applied_config_keeps_the_servers_tls(
    cache: Path, write: WriteFile, project: Path
) -> None:
    """A reloaded config (which has no tls: --tls came from the command line) keeps wss://."""
    write("echo.py", ECHO)
    config = {"endpoints": [endpoint("/ws", "echo.py")]}
    async with run_server(config, base_dir=project, tls=True) as server:
        edited = config_from_mapping(
            {"endpoints": [endpoint("/ws", "echo.py"), endpoint("/ws2", "echo.py")]},
            base_dir=project,
        )
        await server.server.apply_config(edited)
        assert server.url("/ws2").startswith("wss://")
        client = await server.connect("/ws2")
        await client.send("again")
        assert await client.receive() == {"echo": "again"}
