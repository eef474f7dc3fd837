"""Recording endpoints' frames to JSON Lines, secrets masked (mockws/observe/recording.py)."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from mockws.observe.recording import RecordingError, load_recording
from mockws.testing import run_server
from tests.helpers import WriteFile, eventually

ECHO = """
async def on_connect(conn):
    await conn.send({"type": "hello", "password": "hunter2"})

async def on_message(conn, data):
    await conn.send(data)
"""

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def test_every_frame_both_ways_is_recorded_with_secrets_masked(write: WriteFile) -> None:
    write("echo.py", ECHO)
    base = write("x.txt", "").parent
    config = {"endpoints": [{"pattern": "/r", "handler": "echo.py", "record": "rec/all.jsonl"}]}
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/r", query={"token": TOKEN, "room": "a"})
        assert (await client.receive())["type"] == "hello"
        await client.send({"type": "login", "token": TOKEN})
        await client.receive()
        await client.send("plain text")
        await client.receive()
        await client.socket.send_bytes(b"\x00\xff")
        await client.receive()
        await client.close(4000, "bye")
        file = base / "rec" / "all.jsonl"
        await eventually(lambda: file.exists() and '"close"' in file.read_text(), timeout=5)
    text = file.read_text(encoding="utf-8")
    assert TOKEN not in text and "hunter2" not in text
    header, *frames = lines(file)
    assert header["mockws"] == 1 and header["endpoint"] == "/r"
    assert header["path"] == "/r?token=***&room=a"
    assert [
        (f["dir"], next(k for k in ("json", "text", "b64", "close") if k in f)) for f in frames
    ] == [
        ("out", "json"),
        ("in", "json"),
        ("out", "json"),
        ("in", "text"),
        ("out", "text"),
        ("in", "b64"),
        ("out", "b64"),
        ("in", "close"),
    ]
    assert frames[1]["json"] == {"type": "login", "token": "***"}
    assert base64.b64decode(frames[5]["b64"]) == b"\x00\xff"
    assert frames[-1]["close"] == 4000 and frames[-1]["reason"] == "bye"
    times = [frame["t"] for frame in frames]
    assert times == sorted(times)


async def test_a_conn_template_gives_each_connection_its_file(write: WriteFile) -> None:
    write("echo.py", ECHO)
    base = write("x.txt", "").parent
    record = "rec/{conn}-{date}.jsonl"
    config = {"endpoints": [{"pattern": "/r", "handler": "echo.py", "record": record}]}
    async with run_server(config, base_dir=base) as server:
        first, second = await server.connect("/r"), await server.connect("/r")
        await first.receive()
        await second.receive()
        await first.close()
        await second.close()
        await eventually(lambda: len(list((base / "rec").glob("*.jsonl"))) == 2, timeout=5)
    names = sorted(path.name.split("-")[0] for path in (base / "rec").glob("*.jsonl"))
    assert len(set(names)) == 2


async def test_record_limit_stops_recording_and_serving_goes_on(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    write("echo.py", ECHO)
    base = write("x.txt", "").parent
    config = {
        "endpoints": [
            {"pattern": "/r", "handler": "echo.py", "record": "r.jsonl", "record_limit": 600}
        ]
    }
    with caplog.at_level(logging.WARNING, logger="mockws.record"):
        async with run_server(config, base_dir=base) as server:
            client = await server.connect("/r")
            await client.receive()
            for index in range(40):
                await client.send({"n": index, "pad": "x" * 20})
                assert (await client.receive())["n"] == index
    assert (base / "r.jsonl").stat().st_size <= 600
    assert "recording stopped at record_limit (600 bytes)" in caplog.text


def test_load_recording_reads_connections_and_names_bad_lines(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"mockws": 1, "conn": "c1"}\n'
        '{"t": 0.5, "conn": "c1", "dir": "out", "json": {"a": 1}}\n'
        '{"mockws": 1, "conn": "c2"}\n'
        '{"t": 0.1, "conn": "c2", "dir": "in", "b64": "AAE="}\n',
        encoding="utf-8",
    )
    recording = load_recording(good)
    assert list(recording) == ["c1", "c2"]
    assert recording["c1"].frames[0].payload == {"a": 1}
    assert recording["c2"].frames[0].payload == b"\x00\x01"
    cases = {
        "not json": "good.jsonl:2: not JSON",
        '{"t": 1, "conn": "c9", "dir": "out", "text": "x"}': "before its header line",
        '{"t": -1, "conn": "c1", "dir": "out", "text": "x"}': '"t" must be a number',
        '{"t": 1, "conn": "c1", "dir": "up", "text": "x"}': '"dir" must be "in" or "out"',
        '{"t": 1, "conn": "c1", "dir": "out"}': 'exactly one of "json", "text", "b64"',
        '{"t": 1, "conn": "c1", "dir": "out", "b64": "%%"}': '"b64" is not base64',
    }
    for line, message in cases.items():
        bad = tmp_path / "good.jsonl"
        bad.write_text('{"mockws": 1, "conn": "c1"}\n' + line + "\n", encoding="utf-8")
        with pytest.raises(RecordingError, match=message):
            load_recording(bad)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(RecordingError, match="no connection"):
        load_recording(empty)
