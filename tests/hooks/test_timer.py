"""Handlers that block the loop are reported; one that hangs stops no one else."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from mockws.hooks.timer import HookTimer
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, handler_module

ABUSIVE = """
import asyncio
import time

RELEASE = asyncio.Event()


async def on_message(conn, data):
    if data == "block":
        time.sleep(0.15)
    elif data == "block-after-await":
        await asyncio.sleep(0.01)
        time.sleep(0.15)
    elif data == "slow-but-polite":
        for _ in range(3):
            await asyncio.sleep(0.05)
    elif data == "hang":
        await RELEASE.wait()
    await conn.send(f"done {data}")
"""


def blocked_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]


async def test_blocking_hook_is_reported_with_handler_and_hook(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """A hook that blocks longer than slow_hook_warning is logged with its file, name and time."""
    base: Path = write("abusive.py", ABUSIVE).parent
    config = {"limits": {"slow_hook_warning": 0.1}, "endpoints": [endpoint("/a", "abusive.py")]}
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/a")
        with caplog.at_level(logging.WARNING, logger="mockws.handler"):
            for message in ("block", "block-after-await", "slow-but-polite"):
                await client.send(message)
                assert await client.receive() == f"done {message}"
        records = blocked_records(caplog)
        assert len(records) == 2, records
        for record in records:
            assert "abusive.py:" in record and "on_message blocked the event loop for 0.1" in record
            assert "(connection c" in record


async def test_threshold_off_reports_nothing(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """slow_hook_warning: 0 turns the report off."""
    base: Path = write("abusive.py", ABUSIVE).parent
    config = {"limits": {"slow_hook_warning": 0}, "endpoints": [endpoint("/a", "abusive.py")]}
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/a")
        with caplog.at_level(logging.WARNING, logger="mockws.handler"):
            await client.send("block")
            assert await client.receive() == "done block"
        assert blocked_records(caplog) == []


async def test_hanging_on_message_does_not_stop_other_connections(write: WriteFile) -> None:
    """A connection stuck in on_message leaves every other connection served."""
    base: Path = write("abusive.py", ABUSIVE).parent
    async with run_server({"endpoints": [endpoint("/a", "abusive.py")]}, base_dir=base) as server:
        stuck = await server.connect("/a")
        await stuck.send("hang")
        others = [await server.connect("/a") for _ in range(3)]
        for round_number in range(5):
            for other in others:
                await other.send(f"m{round_number}")
            for other in others:
                assert await other.receive(timeout=1) == f"done m{round_number}"
        with pytest.raises(TimeoutError):
            await stuck.receive(timeout=0.1)
        handler_module("abusive").RELEASE.set()
        assert await stuck.receive() == "done hang"


async def test_timed_call_passes_results_errors_and_cancellation() -> None:
    """The timing wrapper is transparent: values, exceptions and cancellation go through."""
    timer = HookTimer(0.05)
    timed_call = timer.call

    async def add(a: int, b: int) -> int:
        await asyncio.sleep(0)
        return a + b

    async def fail() -> None:
        await asyncio.sleep(0)
        raise KeyError("boom")

    caught: list[str] = []

    async def swallow_one_error() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            caught.append("cancelled")
            raise
        return "never"

    assert await timed_call(add, 1, 2) == 3
    assert await timed_call(lambda x: x * 2, 21) == 42
    with pytest.raises(KeyError):
        await timed_call(fail)
    task = asyncio.create_task(timed_call(swallow_one_error))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert caught == ["cancelled"]
