"""The message pipeline and safe hook calls (mockws/hooks/pipeline.py).

Unit tests use a stand-in connection (an id, a path and a hub with an event
bus: all the pipeline reads); the last tests run a real server.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from mockws.hooks.loader import HandlerSlot
from mockws.hooks.pipeline import (
    handler_stage,
    report_hook_error,
    report_protocol_error,
    run_hook,
    run_pipeline,
)
from mockws.hooks.timer import HookTimer
from mockws.observe.events import Event, EventBus, HandlerFailed
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, eventually, handler_module
from ..rawws import OP_TEXT, raw_connect


def fake_conn() -> Any:
    return SimpleNamespace(id="c1", path="/chat/1", hub=SimpleNamespace(events=EventBus()))


def slot_of(**hooks: Any) -> HandlerSlot:
    module = ModuleType("chat")
    module.__dict__.update(hooks)
    return HandlerSlot("chat.py", module, HookTimer(None))


def published(conn: Any) -> list[Event]:
    events: list[Event] = []
    conn.hub.events.subscribe(events.append)
    return events


def error_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# run_pipeline


async def test_pipeline_stops_at_the_first_stage_that_handles() -> None:
    """Stages run in order with the data until one returns True; later ones never run."""
    seen: list[tuple[str, Any]] = []

    def stage(name: str, handles: bool) -> Any:
        async def run(conn: Any, data: Any) -> bool:
            seen.append((name, data))
            return handles

        return run

    stages = [stage("rules", False), stage("faults", True), stage("handler", True)]
    await run_pipeline(stages, fake_conn(), {"op": "x"})
    assert seen == [("rules", {"op": "x"}), ("faults", {"op": "x"})]


async def test_pipeline_where_no_stage_handles_runs_them_all() -> None:
    """When every stage passes the message on, each ran once and nothing fails."""
    seen: list[int] = []

    async def passes(conn: Any, data: Any) -> bool:
        seen.append(data)
        return False

    await run_pipeline([passes, passes], fake_conn(), 7)
    await run_pipeline([], fake_conn(), 8)
    assert seen == [7, 7]


# handler_stage


async def test_handler_stage_gives_the_message_to_on_message() -> None:
    """The handler stage calls on_message(conn, data) and reports the message handled."""
    received: list[tuple[Any, Any]] = []

    async def on_message(conn: Any, data: Any) -> None:
        received.append((conn, data))

    conn = fake_conn()
    assert await handler_stage(slot_of(on_message=on_message))(conn, "hi") is True
    assert received == [(conn, "hi")]


async def test_handler_stage_handles_even_without_on_message_or_when_it_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without on_message, or when on_message raises, the handler stage still returns True."""

    def on_message(conn: Any, data: Any) -> None:
        raise ValueError("bad message")

    conn = fake_conn()
    assert await handler_stage(slot_of())(conn, "hi") is True
    with caplog.at_level(logging.ERROR, logger="mockws.handler"):
        assert await handler_stage(slot_of(on_message=on_message))(conn, "hi") is True
    assert error_messages(caplog) == ["chat.py: on_message raised (connection c1, /chat/1)"]


# run_hook


async def test_run_hook_without_the_hook_succeeds() -> None:
    """A handler without the hook (or with a non-callable of that name) counts as success."""
    assert await run_hook(slot_of(), fake_conn(), "on_connect") is True
    assert await run_hook(slot_of(on_connect=42), fake_conn(), "on_connect") is True


async def test_run_hook_calls_sync_and_async_hooks_with_conn_and_args() -> None:
    """A sync or async hook gets the connection first, then the arguments."""
    calls: list[tuple[Any, ...]] = []

    def on_close(conn: Any, code: int, reason: str) -> None:
        calls.append(("sync", conn.id, code, reason))

    async def on_connect(conn: Any) -> None:
        await asyncio.sleep(0)
        calls.append(("async", conn.id))

    slot = slot_of(on_close=on_close, on_connect=on_connect)
    assert await run_hook(slot, fake_conn(), "on_connect") is True
    assert await run_hook(slot, fake_conn(), "on_close", 1000, "bye") is True
    assert calls == [("async", "c1"), ("sync", "c1", 1000, "bye")]


async def test_an_error_goes_to_on_error(caplog: pytest.LogCaptureFixture) -> None:
    """A hook's exception is passed to on_error(conn, error); run_hook succeeds, nothing logged."""
    error = RuntimeError("boom")
    taken: list[tuple[Any, BaseException]] = []

    async def on_connect(conn: Any) -> None:
        raise error

    async def on_error(conn: Any, caught: BaseException) -> None:
        taken.append((conn, caught))

    conn = fake_conn()
    events = published(conn)
    with caplog.at_level(logging.DEBUG, logger="mockws"):
        assert await run_hook(slot_of(on_connect=on_connect, on_error=on_error), conn, "on_connect")
    assert taken == [(conn, error)]
    assert error_messages(caplog) == []
    [event] = events
    assert isinstance(event, HandlerFailed)
    assert (event.handler, event.hook, event.error, event.conn_id) == (
        "chat.py",
        "on_connect",
        "RuntimeError: boom",
        "c1",
    )
    assert "raise error" in event.traceback


async def test_an_error_without_on_error_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without on_error, the exception is logged with its traceback and run_hook fails."""
    error = KeyError("room")

    def on_connect(conn: Any) -> None:
        raise error

    with caplog.at_level(logging.ERROR, logger="mockws.handler"):
        assert await run_hook(slot_of(on_connect=on_connect), fake_conn(), "on_connect") is False
    [record] = caplog.records
    assert record.getMessage() == "chat.py: on_connect raised (connection c1, /chat/1)"
    assert record.exc_info is not None and record.exc_info[1] is error


async def test_an_on_error_that_raises_is_logged_and_the_hook_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If on_error raises too, both errors are logged with their tracebacks; run_hook fails."""
    original, nested = ValueError("first"), TypeError("second")

    def on_message(conn: Any, data: Any) -> None:
        raise original

    def on_error(conn: Any, error: BaseException) -> None:
        raise nested

    slot = slot_of(on_message=on_message, on_error=on_error)
    with caplog.at_level(logging.ERROR, logger="mockws.handler"):
        assert await run_hook(slot, fake_conn(), "on_message", "hi") is False
    logged = [(r.getMessage(), r.exc_info[1] if r.exc_info else None) for r in caplog.records]
    assert logged == [
        (
            "chat.py: on_error raised while handling an error from on_message (connection c1)",
            nested,
        ),
        ("chat.py: on_message raised (connection c1, /chat/1)", original),
    ]


async def test_cancellation_of_a_hook_is_not_reported_as_an_error() -> None:
    """A hook cancelled mid-await propagates CancelledError; on_error never sees it."""
    taken: list[BaseException] = []

    async def on_message(conn: Any, data: Any) -> None:
        raise asyncio.CancelledError

    slot = slot_of(on_message=on_message, on_error=lambda conn, error: taken.append(error))
    with pytest.raises(asyncio.CancelledError):
        await run_hook(slot, fake_conn(), "on_message", "hi")
    assert taken == []


async def test_report_hook_error_says_whether_on_error_took_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """report_hook_error returns True when on_error took the error, False when only logged."""
    error = RuntimeError("x")
    with_handler = slot_of(on_error=lambda conn, caught: None)
    with caplog.at_level(logging.ERROR, logger="mockws.handler"):
        assert await report_hook_error(with_handler, fake_conn(), error, "on_message") is True
        assert error_messages(caplog) == []
        assert await report_hook_error(slot_of(), fake_conn(), error, "background") is False
    assert error_messages(caplog) == ["chat.py: background raised (connection c1, /chat/1)"]


# report_protocol_error


async def test_protocol_error_without_on_error_is_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without on_error, a client's protocol error is logged as a warning and published."""
    conn = fake_conn()
    events = published(conn)
    with caplog.at_level(logging.DEBUG, logger="mockws"):
        await report_protocol_error(slot_of(), conn, ValueError("Invalid UTF-8 text message"))
    logged = [(r.levelno, r.getMessage(), r.exc_info) for r in caplog.records]
    assert logged == [
        (logging.WARNING, "c1: protocol error from client: Invalid UTF-8 text message", None)
    ]
    [event] = events
    assert isinstance(event, HandlerFailed) and event.hook == "the protocol"


async def test_protocol_error_goes_to_on_error(caplog: pytest.LogCaptureFixture) -> None:
    """With on_error, the protocol error is passed to it as from 'the protocol', not logged."""
    error = ValueError("bad frame")
    taken: list[BaseException] = []
    conn = fake_conn()
    events = published(conn)
    with caplog.at_level(logging.DEBUG, logger="mockws"):
        await report_protocol_error(
            slot_of(on_error=lambda conn, caught: taken.append(caught)), conn, error
        )
    assert taken == [error]
    assert caplog.records == []
    [event] = events
    assert isinstance(event, HandlerFailed)
    assert (event.hook, event.error) == ("the protocol", "ValueError: bad frame")


# Over a real connection

PROTOCOL_HANDLER = """
ERRORS = []

async def on_message(conn, data):
    await conn.send(data)

async def on_error(conn, error):
    ERRORS.append((conn.id, type(error).__name__, getattr(error, "code", None), str(error)))
"""


async def test_a_clients_protocol_error_reaches_on_error(
    write: WriteFile, raw_clients: object
) -> None:
    """Invalid UTF-8 from a real client reaches on_error as aiohttp's error with code 1007."""
    base: Path = write("protocol_errors.py", PROTOCOL_HANDLER).parent
    config = {"endpoints": [endpoint("/p", "protocol_errors.py", parse_json=False)]}
    async with run_server(config, base_dir=base) as server:
        client = await raw_connect(server.port, "/p")
        client.send_frame(OP_TEXT, b"fine")
        assert (await client.read_frame()).payload == b"fine"
        client.send_frame(OP_TEXT, b"\xff\xfe")
        assert await client.read_close() == 1007
        errors = handler_module("protocol_errors").ERRORS
        await eventually(lambda: bool(errors))
        [(conn_id, kind, code, text)] = errors
        assert conn_id.startswith("c") and (kind, code) == ("WebSocketError", 1007)
        assert text == "Invalid UTF-8 text message"


async def test_a_clients_protocol_error_without_on_error_is_a_warning(
    write: WriteFile, raw_clients: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Without on_error, a real client's protocol error is one warning line, no traceback."""
    base: Path = write("plain_echo.py", "async def on_message(conn, data):\n    pass\n").parent
    config = {"endpoints": [endpoint("/p", "plain_echo.py")]}
    caplog.set_level(logging.WARNING, logger="mockws")
    async with run_server(config, base_dir=base) as server:
        client = await raw_connect(server.port, "/p")
        client.send_frame(0x3, b"reserved")
        assert await client.read_close() == 1002
        await eventually(lambda: any("protocol error" in r.getMessage() for r in caplog.records))
    [record] = [r for r in caplog.records if "protocol error" in r.getMessage()]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage().endswith(": protocol error from client: Unexpected opcode=3")
