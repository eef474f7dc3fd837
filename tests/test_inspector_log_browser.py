"""Defects 5 and 9: the inspector's filter finds an endpoint's every row; empty broadcasts fold.

Headless Chromium drives the page (see tests/browser.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from mockws.testing import RunningServer, run_server

from .browser import needs_chromium, open_page
from .helpers import COMMAND_HANDLER, WriteFile, command, endpoint

pytestmark = needs_chromium

OTHER = "async def on_message(conn, data):\n    await conn.send(data)\n"


async def broadcast(server: RunningServer, **body: Any) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(server.http_url("/__mockws/api/broadcast"), json=body) as reply,
    ):
        assert reply.status == 200


async def test_filter_by_endpoint_finds_joins_errors_reloads_and_room_broadcasts(
    project: Path, write: WriteFile
) -> None:
    """Filtering /ws/cmd keeps its join, error, failed-reload, room-broadcast rows; not others."""
    from playwright.async_api import expect

    write("cmd.py", COMMAND_HANDLER)
    write("other.py", OTHER)
    config = {"endpoints": [endpoint("/ws/cmd", "cmd.py"), endpoint("/ws/other", "other.py")]}
    async with run_server(config, base_dir=project, reload=True) as server:
        async with open_page() as page:
            await page.goto(server.http_url("/__mockws/"))
            await expect(page.locator("#status")).to_have_text("live")
            cmd = await server.connect("/ws/cmd")
            other = await server.connect("/ws/other")
            await command(cmd, op="join", room="team")
            await broadcast(server, data={"to": "team"}, rooms=["team"])
            assert await cmd.receive() == {"to": "team"}
            await cmd.send({"op": "join", "room": ""})  # raises in on_message
            await other.send("hello from other")
            assert await other.receive() == "hello from other"
            async with server.reloaded():
                write("cmd.py", "def on_message(conn, data)\n")  # a syntax error
            log = page.locator("#log")
            await expect(log.locator(".row.error", has_text="reload failed")).to_have_count(1)

            await page.locator("#filter").fill("/ws/cmd")
            visible = log.locator(".row:not(.hidden)")
            for text in ("joined team", "raised ValueError", "reload failed", '"to": "team"'):
                await expect(visible.filter(has_text=text)).to_have_count(1)
            await expect(visible.filter(has_text="hello from other")).to_have_count(0)
            await page.locator("#filter").fill("/ws/other")
            await expect(visible.filter(has_text="hello from other")).to_have_count(2)
            await expect(visible.filter(has_text="joined team")).to_have_count(0)


async def test_broadcasts_to_nobody_fold_hide_and_export_as_jsonl(
    project: Path, write: WriteFile, tmp_path: Path
) -> None:
    """Repeated 0-conns broadcasts fold into one row per target; the log exports as JSONL."""
    from playwright.async_api import expect

    write("cmd.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/ws/cmd", "cmd.py")]}
    async with run_server(config, base_dir=project) as server:
        async with open_page() as page:
            await page.goto(server.http_url("/__mockws/"))
            await expect(page.locator("#status")).to_have_text("live")
            client = await server.connect("/ws/cmd")
            for tick in range(5):
                await broadcast(server, data={"tick": tick}, rooms=["cpu"])
                await broadcast(server, data={"tick": tick}, rooms=["memory"])
            await client.send("real message")
            assert await client.receive() == "real message"
            log = page.locator("#log")
            await expect(log.locator(".row", has_text="real message")).to_have_count(2)
            nobody = log.locator(".row.nobody")
            await expect(nobody).to_have_count(2)
            await expect(nobody.filter(has_text="0 conns · cpu ×5")).to_contain_text('"tick": 4')
            await expect(nobody.filter(has_text="0 conns · memory ×5")).to_have_count(1)

            await page.locator("#hide-nobody").check()
            await expect(nobody.first).to_be_hidden()
            await expect(log.locator(".row.in", has_text="real message")).to_be_visible()
            await page.locator("#hide-nobody").uncheck()
            await expect(nobody.first).to_be_visible()

            async with page.expect_download() as download_info:
                await page.locator("#export").click()
            download = await download_info.value
            assert download.suggested_filename.endswith(".jsonl")
            saved = tmp_path / "log.jsonl"
            await download.save_as(saved)
            events = [json.loads(line) for line in saved.read_text().splitlines()]
            empty = [e for e in events if e["type"] == "out" and e.get("recipients") == 0]
            assert len(empty) == 10
            assert [e["type"] for e in events if "real message" in e.get("preview", "")] == [
                "in",
                "out",
            ]
            assert any(e["type"] == "open" and e["endpoint"] == "/ws/cmd" for e in events)
