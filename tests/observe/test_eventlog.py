"""Log lines per connection event and per message (mockws/observe/eventlog.py, logging.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal

import pytest
import websockets

from mockws.observe.eventlog import describe, format_size
from mockws.observe.events import (
    ConnectionClosed,
    ConnectionOpened,
    FaultInjected,
    HandlerFailed,
    MessageDropped,
    MessageIn,
    MessageOut,
    RoomJoined,
    RoomLeft,
)
from mockws.observe.logging import EVENT_ATTRIBUTE, JsonFormatter, TextFormatter, wants_colour
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, killed_on_exit, start_serve


def test_faults_read_as_one_line_each() -> None:
    """A drop shows the lost message; a fault names its connection or endpoint and what it did."""
    assert (
        describe(MessageDropped(conn_id="c2", endpoint="/e", size=7, preview='{"n":1}'))
        == '✗ c2 /e 7 B {"n":1} dropped by faults.drop'
    )
    assert (
        describe(FaultInjected(fault="abort", endpoint="/e", conn_id="c2", detail="TCP reset"))
        == "c2 fault: abort: TCP reset"
    )
    assert (
        describe(FaultInjected(fault="refuse", endpoint="/e", detail="refused a handshake"))
        == "/e fault: refuse: refused a handshake"
    )


def test_each_event_reads_as_one_line() -> None:
    """Connection, room and message events each describe themselves in one short line."""
    assert (
        describe(ConnectionOpened(conn_id="c1", endpoint="/e", path="/e?token=***", remote="::1"))
        == "c1 connected to /e?token=*** (/e) from ::1"
    )
    assert (
        describe(ConnectionClosed(conn_id="c1", endpoint="/e", code=1000, reason="bye"))
        == 'c1 closed 1000 "bye" (0 in, 0 out)'
    )
    assert describe(RoomJoined(conn_id="c1", room="r")) == "c1 joined r"
    assert describe(RoomLeft(conn_id="c1", room="r")) == "c1 left r"
    assert (
        describe(MessageIn(conn_id="c1", endpoint="/e", size=8, preview='{"a":1}\n'))
        == '← c1 /e 8 B {"a":1}\\n'
    )
    assert (
        describe(
            MessageOut(
                conn_id=None,
                endpoint="/e",
                size=2048,
                preview="x" * 200,
                truncated=True,
                recipients=3,
                rooms=("a", "b"),
            )
        )
        == f"→ 3 conns in a,b of /e 2.0 KB {'x' * 80}…"
    )
    assert (
        describe(
            MessageOut(
                conn_id=None,
                endpoint=None,
                size=2,
                binary=True,
                preview="00 01",
                recipients=1,
                user="u",
            )
        )
        == "→ 1 conn of user u 2 B binary 00 01"
    )
    assert describe(HandlerFailed(handler="h", hook="on_message", error="E: x")) is None
    assert format_size(3 * 1024 * 1024) == "3.0 MB"


def record(message: str, event: dict[str, object] | None = None) -> logging.LogRecord:
    """A log record as the event logger makes it."""
    item = logging.LogRecord("mockws.message", logging.INFO, __file__, 1, "%s", (message,), None)
    if event is not None:
        setattr(item, EVENT_ATTRIBUTE, event)
    return item


def test_text_lines_are_plain_unless_colour_is_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain text has no escape codes; colour wraps the lead word and follows NO_COLOR."""
    line = record("← c1 /e 2 B hi", {"type": "in"})
    plain = TextFormatter(colour=False).format(line)
    assert "\x1b[" not in plain and plain.endswith("INFO    mockws.message: ← c1 /e 2 B hi")
    coloured = TextFormatter(colour=True).format(line)
    assert "\x1b[32m←\x1b[0m c1 /e 2 B hi" in coloured

    class Terminal:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert wants_colour(Terminal())  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not wants_colour(Terminal())  # type: ignore[arg-type]


def test_json_lines_carry_the_event_fields() -> None:
    """The JSON formatter writes one object with level, logger, message and the event."""
    data = json.loads(JsonFormatter().format(record("← c1", {"type": "in", "size": 2})))
    assert data["level"] == "info"
    assert data["logger"] == "mockws.message"
    assert data["message"] == "← c1"
    assert data["event"] == {"type": "in", "size": 2}
    assert data["time"].endswith("+00:00")


async def test_log_messages_writes_a_line_per_message(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """With log_messages each message in and out is logged with arrow, id, size and preview."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = {"endpoints": [endpoint("/echo", "echo.py")]}
    with caplog.at_level(logging.INFO, logger="mockws"):
        async with run_server(config, base_dir=write("x", "").parent, log_messages=True) as server:
            client = await server.connect("/echo", query={"token": "s3cret"})
            await client.send({"password": "hunter2", "n": 1})
            await client.receive_json()
            await client.close()
            await asyncio.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("mockws.")]
    assert "c1 connected to /echo?token=*** (/echo) from 127.0.0.1" in lines
    assert '← c1 /echo 31 B {"password": "***", "n": 1}' in lines
    assert '→ c1 /echo 28 B {"password":"***","n":1}' in lines
    assert "c1 closed 1000 (1 in, 1 out)" in lines
    assert "s3cret" not in caplog.text and "hunter2" not in caplog.text


async def test_messages_are_not_logged_without_the_flag(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """Without log_messages only connection events are logged."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = {"endpoints": [endpoint("/echo", "echo.py")]}
    with caplog.at_level(logging.INFO, logger="mockws"):
        async with run_server(config, base_dir=write("x", "").parent) as server:
            client = await server.connect("/echo")
            await client.send("hi")
            await client.receive()
    assert any("connected to /echo" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.name == "mockws.message"]


async def test_serve_log_format_json_masks_secrets(write: WriteFile) -> None:
    """`serve --log-messages --log-format json` writes JSON lines, secrets masked."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = write("mockws.yaml", "port: 0\nendpoints:\n  - pattern: /echo\n    handler: echo.py\n")
    process, lines = await start_serve("--log-messages", "--log-format", "json", cwd=config.parent)
    async with killed_on_exit(process):
        url = next(line.split()[1] for line in lines if "ws://" in line)
        port = url.split(":")[2].split("/")[0]
        assert f"mockws: inspector at http://127.0.0.1:{port}/__mockws/" in lines
        async with websockets.connect(f"{url}?token=s3cret") as client:
            await client.send('{"token": "abc"}')
            assert await asyncio.wait_for(client.recv(), 5) == '{"token":"abc"}'
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
        assert process.stderr is not None
        stderr = (await process.stderr.read()).decode()
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    events = {r["event"]["type"]: r["event"] for r in records if "event" in r}
    assert set(events) >= {"open", "in", "out", "close"}, stderr
    assert events["open"]["path"] == "/echo?token=***"
    assert events["in"]["preview"] == '{"token": "***"}'
    assert "s3cret" not in stderr and "abc" not in stderr
    assert "\x1b[" not in stderr
