"""Two servers in one process keep their own settings, sys.path share, connections and rooms."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import aiohttp
import pytest

from mockws.testing import run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint

BLOCKING_HANDLER = """
import time

async def on_message(conn, data):
    time.sleep(0.15)
    await conn.send("done")
"""


@pytest.fixture
def folder(write: WriteFile) -> Path:
    write("commands.py", COMMAND_HANDLER)
    return write("blocking.py", BLOCKING_HANDLER).parent


def config(slow_hook_warning: float | None = None) -> dict[str, object]:
    limits = {} if slow_hook_warning is None else {"slow_hook_warning": slow_hook_warning}
    return {
        "limits": limits,
        "endpoints": [endpoint("/c", "commands.py"), endpoint("/slow", "blocking.py")],
    }


def blocked_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "blocked the event loop" in r.getMessage()]


async def test_each_server_keeps_its_slow_hook_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server started later with slow_hook_warning 0 neither silences nor is warned by another."""
    caplog.set_level(logging.WARNING, logger="mockws.handler")
    async with (
        run_server(config(0.1), base_dir=folder) as warns,
        run_server(config(0), base_dir=folder) as quiet,
    ):
        quiet_client = await quiet.connect("/slow")
        await quiet_client.send("x")
        assert await quiet_client.receive() == "done"
        assert blocked_warnings(caplog) == []
        warns_client = await warns.connect("/slow")
        await warns_client.send("x")
        assert await warns_client.receive() == "done"
        [warning] = blocked_warnings(caplog)
        assert "blocking.py" in warning and "slow_hook_warning is 0.100s" in warning


async def test_shared_folder_leaves_sys_path_when_both_stopped(folder: Path) -> None:
    """The config folder is on sys.path while either server runs, and off it after both stop."""
    entry = str(folder)
    assert entry not in sys.path
    async with run_server(config(), base_dir=folder):
        assert sys.path.count(entry) == 1
        async with run_server(config(), base_dir=folder):
            assert sys.path.count(entry) == 1
        assert sys.path.count(entry) == 1
    assert entry not in sys.path


async def test_a_folder_already_on_sys_path_stays(folder: Path) -> None:
    """A config folder that was on sys.path before the servers started is still there after."""
    entry = str(folder)
    sys.path.append(entry)
    before = list(sys.path)
    async with run_server(config(), base_dir=folder), run_server(config(), base_dir=folder):
        assert sys.path.count(entry) == 1
    assert sys.path == before


async def test_stopping_one_server_leaves_the_other_serving(folder: Path) -> None:
    """After one server stops, the other's open connection and new connections still work."""
    async with run_server(config(), base_dir=folder) as staying:
        kept = await staying.connect("/c")
        async with run_server(config(), base_dir=folder) as leaving:
            gone = await leaving.connect("/c")
            gone_port = leaving.port
        assert gone.closed and not kept.closed
        await kept.send({"echo": 1})
        assert await kept.receive() == {"echo": 1}
        fresh = await staying.connect("/c")
        assert (await command(fresh, op="info"))["connections"] == ["c1", "c2"]  # type: ignore[index]
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.ws_connect(f"http://127.0.0.1:{gone_port}/c")


async def test_connection_ids_and_rooms_are_per_server(folder: Path) -> None:
    """Each server numbers its own connections and keeps its own rooms."""
    async with (
        run_server(config(), base_dir=folder) as one,
        run_server(config(), base_dir=folder) as two,
    ):
        ann, cid, bob = await one.connect("/c"), await one.connect("/c"), await two.connect("/c")
        assert (await command(ann, op="info"))["id"] == "c1"  # type: ignore[index]
        assert (await command(bob, op="info"))["id"] == "c1"  # type: ignore[index]
        await command(cid, op="join", room="r")
        assert list(two.hub.rooms) == []
        assert await command(bob, op="broadcast", data="x", rooms=["r"]) == 0
        assert sorted(one.hub.rooms) == ["r"]
        assert await command(ann, op="broadcast", data="y", rooms=["r"]) == 1
        assert await cid.receive() == "y"
        await bob.expect_no_message()


async def test_a_folder_its_owner_removed_is_put_back(folder: Path) -> None:
    """A folder that was on sys.path, then taken off by its owner, is put back by a new server."""
    entry = str(folder)
    sys.path.append(entry)
    async with run_server(config(), base_dir=folder):
        pass
    sys.path.remove(entry)  # as monkeypatch.syspath_prepend undoes itself after a test
    async with run_server(config(), base_dir=folder):
        assert entry in sys.path
    assert entry not in sys.path
