"""`mockws record URL --out FILE`: a recording proxy without a config (mockws/cli/record.py)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.server import ServerConnection, serve

from mockws.cli.record import record_config
from tests.helpers import killed_on_exit, start_serve


async def _echo(connection: ServerConnection) -> None:
    async for message in connection:
        await connection.send(message)


async def test_record_proxies_and_writes_every_frame(tmp_path: Path) -> None:
    out = tmp_path / "capture.jsonl"
    async with serve(_echo, "127.0.0.1", 0) as upstream:
        port = next(iter(upstream.sockets)).getsockname()[1]
        process, lines = await start_serve(
            f"ws://127.0.0.1:{port}/feed", "--out", str(out), command="record"
        )
        async with killed_on_exit(process):
            [url] = [m.group(1) for line in lines if (m := re.match(r"mockws: (ws://\S+)", line))]
            assert any("recording to" in line for line in lines)
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(url + "?token=abc.def.ghi") as socket:
                    await socket.send_str('{"hello": 1}')
                    assert (await socket.receive(timeout=5)).data == '{"hello": 1}'
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 10)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0]["mockws"] == 1 and rows[0]["path"] == "/feed?token=***"
    assert [(row["dir"], row.get("json")) for row in rows[1:3]] == [
        ("in", {"hello": 1}),
        ("out", {"hello": 1}),
    ]
    assert "abc.def.ghi" not in out.read_text(encoding="utf-8")


def test_record_refuses_a_url_that_is_not_a_websocket() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mockws", "record", "http://x/y", "--out", "f.jsonl"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "expected a ws:// or wss:// URL" in done.stderr


def test_record_config_uses_the_url_path_as_the_pattern(tmp_path: Path) -> None:
    config = record_config("wss://up.example/ws/live?x=1", tmp_path / "o.jsonl", "127.0.0.1", 0)
    [endpoint] = config.endpoints
    assert endpoint.pattern == "/ws/live"
    assert endpoint.proxy is not None and endpoint.proxy.url == "wss://up.example/ws/live?x=1"
    assert endpoint.record is not None and endpoint.record.path == tmp_path / "o.jsonl"
    with pytest.raises(ValueError, match="braces"):
        record_config("ws://x/{a}", tmp_path / "o.jsonl", "127.0.0.1", 0)
