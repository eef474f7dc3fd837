"""The command line: serve in a real process, check, exit codes (mockws/cli/commands.py)."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import websockets
from click.testing import CliRunner

from mockws.cli import main

from ..helpers import EXAMPLE_CONFIG, WriteFile, start_serve


async def test_serve_prints_urls_serves_and_exits_cleanly_on_sigint() -> None:
    """serve prints one ws:// URL per endpoint, serves, and SIGINT closes clients with 1001."""
    process, lines = await start_serve("--config", str(EXAMPLE_CONFIG), "--port", "0")
    try:
        urls = [re.search(r"ws://\S+", line).group(0) for line in lines if "ws://" in line]  # type: ignore[union-attr]
        port = int(urls[0].split(":")[2].split("/")[0])
        assert port != 0
        assert urls == [
            f"ws://127.0.0.1:{port}/ws/chat",
            f"ws://127.0.0.1:{port}/ws/dashboard",
            f"ws://127.0.0.1:{port}/ws/games/{{game_id}}",
            f"ws://127.0.0.1:{port}/ws/live",
            f"ws://127.0.0.1:{port}/ws/notifications",
        ]
        routes = [line.split(" -> ")[0] for line in lines if "http://" in line and "/api/" in line]
        assert routes == [
            f"mockws: POST http://127.0.0.1:{port}/api/login",
            f"mockws: GET http://127.0.0.1:{port}/api/me",
            f"mockws: POST http://127.0.0.1:{port}/api/notify/{{user}}",
        ]
        async with websockets.connect(urls[0]) as client:
            assert '"welcome"' in await asyncio.wait_for(client.recv(), 5)
            process.send_signal(signal.SIGINT)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_finds_default_config_and_exits_0_on_sigterm(write: WriteFile) -> None:
    """Without --config, serve uses mockws.yaml in the current folder; SIGTERM exits 0."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = write("mockws.yaml", "port: 0\nendpoints:\n  - pattern: /echo\n    handler: echo.py\n")
    process, lines = await start_serve(cwd=config.parent)
    try:
        url = next(line.split()[1] for line in lines if "ws://" in line)
        async with websockets.connect(url) as client:
            await client.send("ping?")
            assert await asyncio.wait_for(client.recv(), 5) == "ping?"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_serve_busy_port_exits_1(write: WriteFile) -> None:
    """A port already in use is a runtime failure: exit code 1 and a clear message."""
    write("h.py", "")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write(
            "dev.yaml", f"port: {port}\nendpoints:\n  - pattern: /a\n    handler: h.py\n"
        )
        result = subprocess.run(
            [sys.executable, "-m", "mockws", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_serve_config_error_exits_2(write: WriteFile) -> None:
    """An invalid config is a usage error: exit code 2, with file, line and key."""
    config = write(
        "dev.yaml", "endpoints:\n  - pattern: /a\n    handler: h.py\n    heartbeat: fast\n"
    )
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 2
    assert "dev.yaml:4: endpoints[0].heartbeat: expected a number of seconds" in result.output


def test_check_prints_route_table() -> None:
    """check validates, imports every handler and prints the routes with their hooks."""
    result = CliRunner().invoke(main, ["check", "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert "6 endpoint(s)" in result.output
    assert re.search(
        r"/ws/chat\s+handlers/chat.py\s+\[on_connect, on_message, on_close\]", result.output
    )
    assert re.search(r"/ws/dashboard\s+handlers.dashboard\s+.*background", result.output)
    assert "/socket.io/          handlers/sio_chat.py  [on_connect, on_close, event 'join'" in (
        result.output
    )
    assert "3 HTTP route(s)" in result.output
    assert re.search(r"GET /api/me\s+json, bearer /ws/notifications", result.output)
    assert re.search(r"POST /api/notify/\{user\}\s+empty, send_to_user", result.output)


def test_check_reports_a_route_handler_without_its_function(write: WriteFile) -> None:
    """check fails with exit 2 when a route names a function its module lacks."""
    write("api.py", "def login(request):\n    return {}\n")
    config = write(
        "dev.yaml",
        "endpoints:\n  - pattern: /a\n    handler: api.py\n"
        "http:\n  - route: POST /login\n    handler: api.py:logon\n",
    )
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "dev.yaml:6: http[0].handler: api.py has no function 'logon'" in result.output


def test_check_prints_the_rules_of_each_endpoint() -> None:
    """check lists on_connect, each rule with its file:line, the timed pushes and the script."""
    result = CliRunner().invoke(main, ["check", "--config", str(EXAMPLE_CONFIG)])
    assert result.exit_code == 0, result.output
    assert re.search(r"/ws/live\s+rules only\s+\[no hooks\]", result.output)
    lines = result.output.splitlines()
    start = next(i for i, line in enumerate(lines) if "/ws/live" in line)
    shown = [line.strip() for line in lines[start + 1 : start + 7]]
    assert shown[0] == "on_connect: send"
    assert shown[1] == "rules (first match wins):"
    assert re.fullmatch(r'1\. config\.example\.yaml:\d+  \{"type": "ping"\} -> reply', shown[2])
    assert shown[3].endswith('{"type": "typing"} -> broadcast (not to the sender)')
    assert shown[4].endswith('{"type": "subscribe"} -> join prices, reply')
    assert re.fullmatch(r"every 1s \(config\.example\.yaml:\d+\): broadcast to prices", shown[5])


def test_check_reports_broken_handler_with_exit_2(write: WriteFile) -> None:
    """check fails with exit 2 when a handler does not import, naming both files."""
    write("broken.py", "def on_message(conn, data)\n")
    config = write("dev.yaml", "endpoints:\n  - pattern: /a\n    handler: broken.py\n")
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "dev.yaml:3: endpoints[0].handler: cannot load 'broken.py'" in result.output
    assert "broken.py:1: SyntaxError" in result.output


def test_check_shows_faults_and_reports_a_bad_fault_code(write: WriteFile) -> None:
    """check names an endpoint's faults; a close code that may not be sent fails with its line."""
    write("h.py", "")
    good = write(
        "good.yaml",
        "endpoints:\n  - pattern: /a\n    handler: h.py\n    faults: {latency: 50ms, drop: 0.1}\n",
    )
    result = CliRunner().invoke(main, ["check", "--config", str(good)])
    assert result.exit_code == 0, result.output
    assert "faults: latency 50ms, drop 10%" in result.output
    bad = write(
        "bad.yaml",
        "endpoints:\n  - pattern: /a\n    handler: h.py\n    faults:\n"
        "      disconnect: {after: 3, code: 1006}\n",
    )
    result = CliRunner().invoke(main, ["check", "--config", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:5: endpoints[0].faults.disconnect.code: close code 1006" in result.output


def test_check_says_what_serves_proxy_and_replay_endpoints_and_validates_recordings(
    write: WriteFile,
) -> None:
    """check names the upstream, the recording played and the recording file."""
    write(
        "live.jsonl",
        '{"mockws": 1, "conn": "c1"}\n{"t": 0, "conn": "c1", "dir": "out", "text": "x"}\n',
    )
    config = write(
        "dev.yaml",
        "endpoints:\n"
        "  - pattern: /live\n    proxy: ws://127.0.0.1:9/live?token=abc\n    record: rec.jsonl\n"
        "  - pattern: /offline\n    replay: {file: live.jsonl, mode: reactive}\n",
    )
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert re.search(
        r"/live\s+proxy ws://127.0.0.1:9/live\?token=\*\*\*, recording to ", result.output
    )
    assert re.search(r"/offline\s+replay live.jsonl \(reactive\)", result.output)
    write("live.jsonl", '{"mockws": 1, "conn": "c1"}\n{"t": 0, "conn": "c1"}\n')
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "endpoints[1].replay.file" in result.output and "live.jsonl:2" in result.output


def test_missing_default_config_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no --config and no mockws.yaml here, the command says what it looked for."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert "mockws.yaml, mockws.yml, mockws.py" in result.output
