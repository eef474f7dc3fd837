"""Faults as a browser sees them: headless Chromium driven by Playwright (docs/faults.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mockws.testing import RunningServer, run_server

from .helpers import WriteFile, endpoint, eventually
from .test_inspector_browser import chromium_missing
from .test_inspector_browser import page as page  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

ECHO = """
async def on_message(conn, data):
    await conn.send(data)
"""

# The reconnecting client of docs/faults.md's recipe: exponential backoff, reset on open.
RECONNECTING_CLIENT = """
(url) => {
  window.faultLog = [];
  const started = performance.now();
  const note = (what) => window.faultLog.push({what, at: performance.now() - started});
  function connect(attempt) {
    const ws = new WebSocket(url);
    ws.onopen = () => { attempt = 0; note("open"); };
    ws.onclose = (event) => {
      note(`close ${event.code} ${event.wasClean}`);
      setTimeout(() => connect(attempt + 1), Math.min(100 * 2 ** attempt, 2000));
    };
  }
  connect(0);
}
"""


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("echo.py", ECHO)
    config = {
        "endpoints": [
            {**endpoint("/ws/app", "echo.py"), "faults": {"refuse": {"next": 3, "status": 503}}},
            endpoint("/ws/echo", "echo.py"),
        ]
    }
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


async def log_of(page: Any) -> list[dict[str, Any]]:
    return list(await page.evaluate("window.faultLog"))


async def test_abort_is_1006_and_not_clean_in_the_browser(page: Any, server: RunningServer) -> None:
    """A run-time abort reaches the page as close code 1006 with wasClean false."""
    await page.goto(server.http_url("/__mockws/"))
    await page.evaluate(
        """(url) => {
            window.wsClosed = null;
            const ws = new WebSocket(url);
            ws.onopen = () => ws.send("hello");
            ws.onmessage = () => { window.echoed = true; };
            ws.onclose = (e) => { window.wsClosed = {code: e.code, clean: e.wasClean}; };
        }""",
        server.url("/ws/echo"),
    )
    await page.wait_for_function("window.echoed === true")
    conn_id = next(iter(server.hub.connections))
    await server.fault(conn_id, abort=True)
    await page.wait_for_function("window.wsClosed !== null")
    assert await page.evaluate("window.wsClosed") == {"code": 1006, "clean": False}


async def test_a_reconnecting_app_backs_off_through_refusals_and_an_abort(
    page: Any, server: RunningServer
) -> None:
    """The recipe: 3 refused handshakes, then an abort; the app's backoff reconnects each time."""
    await page.goto(server.http_url("/__mockws/"))
    await page.evaluate(RECONNECTING_CLIENT, server.url("/ws/app"))
    await page.wait_for_function("window.faultLog.some((e) => e.what === 'open')")
    log = await log_of(page)
    assert [entry["what"] for entry in log] == ["close 1006 false"] * 3 + ["open"]
    # Backoff 100, 200, 400 ms between the refused attempts: the open comes after 700 ms.
    assert log[3]["at"] >= 700
    await eventually(lambda: len(server.hub.connections) == 1)
    conn_id = next(iter(server.hub.connections))
    await server.fault(conn_id, abort=True)
    await page.wait_for_function("window.faultLog.filter((e) => e.what === 'open').length === 2")
    whats = [entry["what"] for entry in await log_of(page)]
    assert whats[4:] == ["close 1006 false", "open"]


async def test_inspector_fault_buttons_drive_a_connection_and_an_endpoint(
    page: Any, server: RunningServer
) -> None:
    """Row buttons set latency, stall and abort; the endpoint form refuses a handshake."""
    import time

    import websockets
    from playwright.async_api import expect

    await page.goto(server.http_url("/__mockws/"))
    await expect(page.locator("#status")).to_have_text("live")
    client = await server.connect("/ws/echo")
    row = page.locator("#connections tbody tr", has_text="/ws/echo")
    await expect(row).to_have_count(1)

    await row.locator("input.latency").fill("300ms")
    await row.locator("button.set-latency").click()
    await expect(page.locator("#composer-result")).to_contain_text("latency 300ms")
    started = time.monotonic()
    await client.send("slow")
    assert await client.receive(timeout=5) == "slow"
    assert time.monotonic() - started >= 0.3
    await expect(row.locator(".tag.fault")).to_have_text("latency 300ms")

    await row.locator("button.stall").click()
    await expect(row.locator(".tag.fault")).to_have_text("stalled")
    await expect(page.locator("#log .row.fault", has_text="stall")).to_have_count(1)
    await client.send("anyone?")
    await client.expect_no_message(0.5)
    await row.locator("button.abort").click()
    assert await client.expect_close(timeout=5) == (1006, "")
    await expect(page.locator("#log .row.fault", has_text="abort")).to_have_count(1)

    await page.select_option("#target-kind", "endpoint")
    await page.select_option("#target", "/ws/echo")
    await page.fill("#fault-refuse", "1")
    await page.click("#fault-apply")
    await expect(page.locator("#composer-result")).to_contain_text("refuse next 1 with 503")
    await expect(page.locator("#endpoints")).to_contain_text("refuse next 1")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(server.url("/ws/echo"))
    await expect(page.locator("#log .row.fault", has_text="refused a handshake")).to_have_count(1)
    await page.fill("#fault-refuse", "0")
    await page.fill("#fault-drop", "100%")
    await page.click("#fault-apply")
    await expect(page.locator("#composer-result")).to_contain_text("drop 100%")
    async with websockets.connect(server.url("/ws/echo")) as ws:
        await ws.send('{"lost": "on the way"}')
        await expect(page.locator("#log .row.fault", has_text='"lost"')).to_have_count(1)
    await page.click("#fault-clear")
    await expect(page.locator("#composer-result")).to_contain_text("cleared")
    await expect(page.locator("#endpoints")).not_to_contain_text("drop")
    async with websockets.connect(server.url("/ws/echo")) as ws:
        await ws.send("back")
        assert await ws.recv() == "back"
