"""mockws send and mockws connections against a running server (mockws/cli/remote.py)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from mockws.cli.remote import Target, default_url, format_connections, parse_payload
from mockws.config.load import config_from_mapping
from mockws.config.model import TlsConfig
from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint

HANDLER = """
async def on_connect(conn):
    conn.user_id = conn.query.get("user")
    if "room" in conn.query:
        conn.join(conn.query["room"])
"""


async def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `mockws ARGS` in a real process; return its exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockws",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def server(project: Path, write: WriteFile) -> RunningServer:
    write("app.py", HANDLER)
    config = {
        "admin_token": "s3cret",
        "endpoints": [endpoint("/ws/a", "app.py"), endpoint("/ws/b", "app.py")],
    }
    async with run_server(config, base_dir=project) as running:
        yield running  # type: ignore[misc]


def base(server: RunningServer) -> str:
    return server.http_url("").rstrip("/")


async def test_send_reaches_each_kind_of_target(server: RunningServer, project: Path) -> None:
    """--conn, --room, --user, --endpoint and everyone; the token comes from MOCKWS_ADMIN_TOKEN."""
    ann = await server.connect("/ws/a", query={"user": "ann", "room": "lobby"})
    bob = await server.connect("/ws/b", query={"user": "bob"})
    await server.connected()
    await server.connected()
    env = {"MOCKWS_ADMIN_TOKEN": "s3cret"}
    url = ["--url", base(server)]
    cases = [
        (["--conn", "c2", '{"n": 1}'], "sent to c2", [], [{"n": 1}]),
        (["--room", "lobby", '{"n": 2}'], "reached 1 connection", [{"n": 2}], []),
        (["--user", "bob", '"text"'], "reached 1 connection", [], ["text"]),
        (["--endpoint", "/ws/a", "[1, 2]"], "reached 1 connection", [[1, 2]], []),
        (['{"n": 3}'], "reached 2 connections", [{"n": 3}], [{"n": 3}]),
    ]
    for args, said, to_ann, to_bob in cases:
        code, out, err = await cli("send", *url, *args, cwd=project, env=env)
        assert (code, out.strip(), err) == (0, f"mockws: {said}", ""), args
        for client, expected in ((ann, to_ann), (bob, to_bob)):
            for message in expected:
                assert await client.receive() == message
    await ann.expect_no_message(within=0.1)
    await bob.expect_no_message(within=0.1)


async def test_send_reads_stdin_for_a_dash(server: RunningServer, project: Path) -> None:
    """`mockws send -` takes the JSON from standard input."""
    client = await server.connect("/ws/a")
    await server.connected()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "mockws", "send", "--url", base(server), "-"),
        cwd=project,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "MOCKWS_ADMIN_TOKEN": "s3cret"},
    )
    out, _ = await asyncio.wait_for(process.communicate(b'{"from": "stdin"}'), 30)
    assert process.returncode == 0 and b"reached 1" in out
    assert await client.receive() == {"from": "stdin"}


async def test_connections_lists_them(server: RunningServer, project: Path) -> None:
    """A table by default, the admin API's JSON with --json; the config's token is used."""
    (project / "mockws.yaml").write_text(f"admin_token: s3cret\nport: {server.port}\n")
    await server.connect("/ws/a", query={"user": "ann", "room": "lobby"})
    await server.connected()
    code, out, err = await cli("connections", cwd=project)
    assert (code, err) == (0, "")
    header, row = out.splitlines()
    assert header.split() == ["ID", "ENDPOINT", "PATH", "USER", "ROOMS", "IN", "OUT"]
    assert row.split()[:5] == ["c1", "/ws/a", "/ws/a?user=ann&room=lobby", "ann", "lobby"]
    code, out, _ = await cli("connections", "--json", cwd=project)
    assert code == 0 and json.loads(out)["connections"][0]["user"] == "ann"


async def test_exit_codes(server: RunningServer, project: Path, tmp_path: Path) -> None:
    """1 when no server answers, 2 for usage errors and refusals (token, unknown connection)."""
    url = ["--url", base(server)]
    env = {"MOCKWS_ADMIN_TOKEN": "s3cret"}
    code, _, err = await cli("send", "--url", "http://127.0.0.1:9", "{}", cwd=tmp_path)
    assert code == 1 and "cannot reach a mockws server at http://127.0.0.1:9" in err
    code, _, err = await cli("connections", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert code == 1
    code, _, err = await cli("send", *url, "--room", "r", "--user", "u", "{}", cwd=tmp_path)
    assert code == 2 and "at most one of" in err
    code, _, err = await cli("send", *url, "not json", cwd=tmp_path, env=env)
    assert code == 2 and "quote it as a JSON string" in err
    code, _, err = await cli("send", *url, "--conn", "c99", "{}", cwd=tmp_path, env=env)
    assert code == 2 and "404" in err and "no open connection 'c99'" in err
    code, _, err = await cli("send", *url, "{}", cwd=tmp_path, env={"MOCKWS_ADMIN_TOKEN": ""})
    assert code == 2 and "401" in err and "MOCKWS_ADMIN_TOKEN" in err
    code, _, err = await cli("send", *url, "--endpoint", "/nope", "{}", cwd=tmp_path, env=env)
    assert code == 2 and "no endpoint with pattern '/nope'" in err


async def test_send_over_tls_trusts_the_local_ca(
    project: Path, write: WriteFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a --tls server, send verifies the certificate with the cached local CA."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write("app.py", HANDLER)
    config = {"endpoints": [endpoint("/ws/a", "app.py")]}
    async with run_server(config, base_dir=project, tls=True) as server:
        client = await server.connect("/ws/a")
        await server.connected()
        code, out, err = await cli("send", "--url", base(server), '{"tls": true}', cwd=tmp_path)
        assert (code, err) == (0, "") and "reached 1" in out
        assert await client.receive() == {"tls": True}


def test_default_url_and_helpers(project: Path) -> None:
    """The URL comes from the config (loopback for a wildcard bind, https with tls)."""
    assert default_url(None) == "http://127.0.0.1:8765"
    config = config_from_mapping({"host": "0.0.0.0", "port": 9000}, base_dir=project)
    assert default_url(config) == "http://127.0.0.1:9000"
    v6 = config_from_mapping({"host": "::1", "port": 9000}, base_dir=project)
    assert default_url(v6) == "http://[::1]:9000"
    from dataclasses import replace

    secure = replace(config, tls=TlsConfig(cert=project / "c.pem"))
    assert default_url(secure) == "https://127.0.0.1:9000"
    assert parse_payload('{"a": [1]}') == {"a": [1]}
    with pytest.raises(ValueError, match="quote it"):
        parse_payload("hello")
    assert Target() == Target(room=(), conn=None, user=None, endpoint=None)
    lines = format_connections([{"id": "c1", "endpoint": "/ws", "path": "/ws", "rooms": []}])
    assert lines[1].split() == ["c1", "/ws", "/ws", "-", "-", "0", "0"]
