"""Handler ``background(hub)`` tasks and restarting them (mockws/server/background.py, app.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mockws.config.load import config_from_mapping
from mockws.hooks.loader import HandlerSlot
from mockws.hooks.timer import HookTimer
from mockws.hub.hub import Hub
from mockws.server.background import BackgroundTasks
from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint, eventually, handler_module

WAITING_BACKGROUND = """
import asyncio
LOG = []

async def background(hub):
    LOG.append(("started", hub))
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        LOG.append(("cancelled",))
        raise
"""


@pytest.fixture
def folder(write: WriteFile) -> Path:
    write("plain.py", "")
    return write("waiting.py", WAITING_BACKGROUND).parent


def waiting_log() -> list[tuple[Any, ...]]:
    return handler_module("waiting").LOG  # type: ignore[no-any-return]


def replacement(started: list[Any]) -> ModuleType:
    """A new version of a handler module whose background records its hub in ``started``."""
    module = ModuleType("waiting_v2")

    async def background(hub: Hub) -> None:
        started.append(hub)
        await asyncio.Event().wait()

    module.background = background  # type: ignore[attr-defined]
    return module


def only_slot(server: RunningServer) -> HandlerSlot:
    [slot] = server.server.handler_slots()
    return slot


async def test_background_starts_with_the_server_and_gets_the_hub(folder: Path) -> None:
    """A handler's background(hub) runs while the server serves and is cancelled when it stops."""
    async with run_server({"endpoints": [endpoint("/w", "waiting.py")]}, base_dir=folder) as srv:
        await eventually(lambda: bool(waiting_log()))
        assert waiting_log() == [("started", srv.hub)]
        assert only_slot(srv) in srv.server.background
    assert waiting_log()[1:] == [("cancelled",)]


async def test_a_raising_background_is_logged_with_its_traceback(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception from background(hub) is logged as an error with its traceback."""
    write("raising.py", "async def background(hub):\n    raise RuntimeError('bg boom')\n")
    config = {"endpoints": [endpoint("/r", "raising.py")]}
    with caplog.at_level(logging.ERROR, logger="mockws.server"):
        async with run_server(config, base_dir=write("x.txt", "").parent):
            await eventually(
                lambda: any("background task raised" in r.message for r in caplog.records)
            )
    [record] = [r for r in caplog.records if "background task raised" in r.message]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "raising.py: background task raised"
    assert record.exc_info is not None and str(record.exc_info[1]) == "bg boom"
    assert "raising.py" in caplog.text and "RuntimeError: bg boom" in caplog.text


async def test_a_task_ignoring_cancellation_is_abandoned_after_grace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """stop() waits only `grace` seconds for a task that ignores its cancellation, then warns."""
    release, log = asyncio.Event(), []

    async def background(hub: Hub) -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            log.append("ignored")
        await release.wait()
        log.append("ended")

    module = ModuleType("stubborn")
    module.background = background  # type: ignore[attr-defined]
    slot = HandlerSlot("stubborn.py", module, HookTimer(None))
    tasks = BackgroundTasks(Hub(), grace=0.2)
    tasks.start(slot)
    await asyncio.sleep(0)
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="mockws.server"):
        await tasks.stop(slot)
    assert 0.15 < time.perf_counter() - started < 1.0
    assert log == ["ignored"]
    assert slot not in tasks
    assert "stubborn.py: background task ignored cancellation" in caplog.text
    assert "abandoned" in caplog.text
    release.set()
    await eventually(lambda: log == ["ignored", "ended"])


async def test_restart_background_runs_the_new_modules_code(folder: Path) -> None:
    """restart_background cancels the old task and starts the swapped-in module's background."""
    async with run_server({"endpoints": [endpoint("/w", "waiting.py")]}, base_dir=folder) as srv:
        await eventually(lambda: bool(waiting_log()))
        slot, started = only_slot(srv), []
        slot.swap(replacement(started))
        await srv.server.restart_background(slot)
        assert waiting_log()[1:] == [("cancelled",)]
        await eventually(lambda: bool(started))
        assert started == [srv.hub]
        assert slot in srv.server.background


async def test_no_restart_once_the_server_is_stopping(folder: Path) -> None:
    """restart_background during stop() cancels the task and starts nothing new."""
    seen: list[tuple[bool, bool]] = []
    started: list[Any] = []
    async with run_server({"endpoints": [endpoint("/w", "waiting.py")]}, base_dir=folder) as srv:
        await eventually(lambda: bool(waiting_log()))
        server, slot = srv.server, only_slot(srv)

        async def restart_while_stopping() -> None:
            slot.swap(replacement(started))
            await server.restart_background(slot)
            seen.append((server.stopping, slot in server.background))

        server.on_stopping.append(restart_while_stopping)
    await asyncio.sleep(0.05)
    assert seen == [(True, False)]
    assert started == []
    assert waiting_log()[1:] == [("cancelled",)]


async def test_no_restart_for_a_module_no_longer_in_use(folder: Path) -> None:
    """restart_background of a module that a new config stopped using starts nothing."""
    async with run_server({"endpoints": [endpoint("/w", "waiting.py")]}, base_dir=folder) as srv:
        await eventually(lambda: bool(waiting_log()))
        slot, started = only_slot(srv), []
        other = config_from_mapping({"endpoints": [endpoint("/p", "plain.py")]}, base_dir=folder)
        await srv.server.apply_config(other)
        assert waiting_log()[1:] == [("cancelled",)]
        slot.swap(replacement(started))
        await srv.server.restart_background(slot)
        await asyncio.sleep(0.05)
        assert started == []
        assert slot not in srv.server.background
