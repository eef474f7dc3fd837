"""The inspector page in a real browser: headless Chromium driven by Playwright."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mockws.testing import RunningServer, run_server

from .helpers import COMMAND_HANDLER, ROOT, WriteFile, endpoint

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = ROOT / "artifacts"


def chromium_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "Python playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "chromium is not installed (apt-get install chromium)"
    return None


pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = CHROMIUM if CHROMIUM.exists() else Path(str(shutil.which("chromium")))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 860})
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            await browser.close()


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("cmd.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/ws/cmd", "cmd.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


async def test_inspector_shows_traffic_and_drives_a_client(
    page: Any, server: RunningServer
) -> None:
    """The page lists a connection, logs its messages and errors; its composer sends and closes."""
    from playwright.async_api import expect

    await page.goto(server.http_url("/__mockws/"))
    await expect(page.locator("#status")).to_have_text("live")

    client = await server.connect("/ws/cmd", query={"token": "s3cret-value"})
    row = page.locator("#connections tbody tr", has_text="c1")
    await expect(row).to_contain_text("/ws/cmd?token=***")
    await client.send({"op": "join", "room": "dashboard"})
    await client.receive_json()
    await expect(row).to_contain_text("dashboard")
    await expect(page.locator("#rooms li", has_text="dashboard")).to_contain_text("c1")
    log = page.locator("#log")
    await expect(log.locator(".row.in", has_text='"op": "join"')).to_have_count(1)
    await expect(log.locator(".row.out", has_text='"ack": "join"')).to_have_count(1)

    await client.send({"op": "join", "room": ""})
    await expect(log.locator(".row.error", has_text="on_message raised ValueError")).to_have_count(
        1
    )

    await page.locator("#filter").fill("ack")
    await expect(log.locator(".row.in").first).to_be_hidden()
    await expect(log.locator(".row.out").first).to_be_visible()
    await page.locator("#filter").fill("")

    await page.locator("#pause").click()
    await client.send({"op": "echo-while-paused"})
    assert await client.receive_json() == {"op": "echo-while-paused"}
    await expect(page.locator("#pause")).to_have_text("Resume (2 new)")
    await expect(log.locator(".row", has_text="echo-while-paused")).to_have_count(0)
    await page.locator("#pause").click()
    await expect(log.locator(".row", has_text="echo-while-paused")).to_have_count(2)

    await row.click()
    await expect(page.locator("#target")).to_have_value("c1")
    await page.locator("#payload").fill('{"type": "from-inspector", "n": 7}')
    await page.locator("#send").click()
    assert await client.receive_json() == {"type": "from-inspector", "n": 7}
    await expect(page.locator("#composer-result")).to_have_text("sent to c1")

    await page.locator("#target-kind").select_option("room")
    await expect(page.locator("#target")).to_have_value("dashboard")
    await expect(page.locator("#close")).to_be_hidden()
    await page.locator("#payload").fill("plain text to the room")
    await page.locator("#send").click()
    assert await client.receive() == "plain text to the room"
    await expect(page.locator("#composer-result")).to_have_text("reached 1 connection")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "inspector.png"))
    assert "s3cret-value" not in await page.content()

    await row.click()
    await page.locator("#close-code").fill("4005")
    await page.locator("#close-reason").fill("bye from the inspector")
    await page.locator("#close").click()
    assert await client.expect_close() == (4005, "bye from the inspector")
    await expect(page.locator("#connections tbody tr")).to_have_count(0)
    await expect(
        log.locator(".row.event", has_text='closed 4005 "bye from the inspector"')
    ).to_have_count(1)


async def test_inspector_shows_asyncapi_failures(page: Any) -> None:
    """A message that breaks the AsyncAPI spec is a row with keyword, path and value."""
    from playwright.async_api import expect

    docs = Path(__file__).parent / "asyncapi_docs"
    async with run_server({"asyncapi": "chat.yaml"}, base_dir=docs) as server:
        await page.goto(server.http_url("/__mockws/"))
        await expect(page.locator("#status")).to_have_text("live")
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        await client.receive_json()
        await client.send({"type": "say", "requestId": "1", "text": 5})
        await client.receive_json()
        row = page.locator("#log .row.error", has_text="incoming message breaks the spec")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("/text type: 5")
        await row.click()
        await expect(row).to_contain_text("5 is not of type 'string' [type]")


SIO_HANDLER = """
async def on_shout(conn, text):
    return text.upper()
"""


async def test_inspector_names_socketio_events_and_acks(page: Any, write: WriteFile) -> None:
    """A Socket.IO event's row shows its name and arguments; the handler's ack shows as 'ack'."""
    from playwright.async_api import expect

    from .helpers import sio_base, sio_client

    write("sio.py", SIO_HANDLER)
    config = {"endpoints": [endpoint("/socket.io/", "sio.py", protocol="socket.io", heartbeat=1)]}
    async with run_server(config, base_dir=write("x", "").parent) as running:
        await page.goto(running.http_url("/__mockws/"))
        await expect(page.locator("#status")).to_have_text("live")
        async with sio_client(sio_base(running.server.url("/socket.io/"))) as client:
            assert await client.call("shout", "hey") == "HEY"
            log = page.locator("#log")
            incoming = log.locator(".row.in", has_text="shout")
            await expect(incoming.locator(".sio-event")).to_have_text("shout")
            await expect(incoming).to_contain_text('"hey"')
            ack = log.locator(".row.out", has_text="ack shout")
            await expect(ack.locator(".sio-event")).to_have_text("ack shout")
            await expect(ack).to_contain_text('"HEY"')
            await ack.click()
            await expect(ack.locator(".sio-event")).to_have_text("ack shout")
            row = page.locator("#connections tbody tr", has_text="c1")
            await expect(row).to_contain_text("/socket.io/")
