"""HTTP routes called from a real browser page on another port: CORS with its preflight."""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mockws.observe.events import Event, HttpExchange
from mockws.testing import RunningServer, run_server

from .helpers import WriteFile, endpoint
from .test_inspector_browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing

pytestmark = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))

ROOM_HANDLER = """
async def on_message(conn, data):
    conn.join(data["join"])
    await conn.send({"joined": data["join"]})
"""

PAGE = "<!doctype html><title>app</title><p>the app under development</p>"

# Run in the page: a fetch that needs a preflight (PUT, JSON, a custom header).
CALL = """
async ([url, body]) => {
  try {
    const response = await fetch(url, {
      method: "PUT",
      headers: {"Content-Type": "application/json", "X-Trace": "t-1"},
      body: JSON.stringify(body),
    });
    const json = await response.json();
    return {status: response.status, mock: response.headers.get("X-Mock"), json};
  } catch (error) {
    return {blocked: String(error)};
  }
}
"""

# Run in the page: open a socket, join a room, then POST to a route that broadcasts to it.
PUSH = """
async ([wsUrl, postUrl]) => {
  const socket = new WebSocket(wsUrl);
  const next = () => new Promise((resolve, reject) => {
    socket.onmessage = (event) => resolve(JSON.parse(event.data));
    socket.onerror = () => reject(new Error("socket error"));
  });
  await new Promise((resolve) => (socket.onopen = resolve));
  socket.send(JSON.stringify({join: "orders"}));
  const joined = await next();
  const pushed = next();
  const response = await fetch(postUrl, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({id: 7}),
  });
  const result = {joined, status: response.status, pushed: await pushed};
  socket.close();
  return result;
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def page_server(port: int) -> AsyncIterator[None]:
    """Serve the app's page on ``port`` (another origin than the mock)."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    executable = CHROMIUM if CHROMIUM.exists() else Path(str(shutil.which("chromium")))
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def app_port() -> AsyncIterator[int]:
    port = free_port()
    async with page_server(port):
        yield port


@pytest.fixture
async def mock(write: WriteFile, app_port: int) -> AsyncIterator[RunningServer]:
    write("rooms.py", ROOM_HANDLER)
    config = {
        "allowed_origins": [f"http://localhost:{app_port}"],
        "endpoints": [endpoint("/ws/orders", "rooms.py")],
        "http": [
            {
                "route": "PUT /api/items/{id}",
                "json": {
                    "id": "{{ params.id }}",
                    "got": "{{ body }}",
                    "trace": "{{ headers['x-trace'] }}",
                },
                "headers": {"X-Mock": "1"},
            },
            {
                "route": "POST /api/orders",
                "json": {"ok": True},
                "status": 201,
                "broadcast": {"type": "order_created", "order": "{{ body }}"},
                "rooms": ["orders"],
            },
        ],
    }
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


async def test_a_page_on_another_port_calls_a_route_through_its_preflight(
    browser: Any, app_port: int, mock: RunningServer
) -> None:
    """The allowed origin's fetch passes the preflight and reads the body and an exposed header."""
    page = await browser.new_page()
    await page.goto(f"http://localhost:{app_port}/")
    seen: list[Event] = []
    unsubscribe = mock.hub.events.subscribe(seen.append)
    try:
        result = await page.evaluate(CALL, [mock.http_url("/api/items/3"), {"name": "lamp"}])
    finally:
        unsubscribe()
    assert result == {
        "status": 200,
        "mock": "1",
        "json": {"id": "3", "got": {"name": "lamp"}, "trace": "t-1"},
    }
    exchanges = [(e.method, e.status) for e in seen if isinstance(e, HttpExchange)]
    assert exchanges == [("OPTIONS", 204), ("PUT", 200)]


async def test_a_page_from_an_origin_not_allowed_is_blocked(
    browser: Any, app_port: int, mock: RunningServer
) -> None:
    """The same fetch from an origin outside allowed_origins fails in the browser."""
    page = await browser.new_page()
    await page.goto(f"http://127.0.0.1:{app_port}/")
    seen: list[Event] = []
    unsubscribe = mock.hub.events.subscribe(seen.append)
    try:
        result = await page.evaluate(CALL, [mock.http_url("/api/items/3"), {"name": "lamp"}])
    finally:
        unsubscribe()
    assert [(e.method, e.status) for e in seen if isinstance(e, HttpExchange)] == [("OPTIONS", 403)]
    assert "blocked" in result and "Failed to fetch" in result["blocked"]


async def test_a_post_from_the_page_broadcasts_to_its_room(
    browser: Any, app_port: int, mock: RunningServer
) -> None:
    """The page's socket joins a room; its POST to the route pushes the order to that socket."""
    page = await browser.new_page()
    await page.goto(f"http://localhost:{app_port}/")
    result = await page.evaluate(PUSH, [mock.url("/ws/orders"), mock.http_url("/api/orders")])
    assert result == {
        "joined": {"joined": "orders"},
        "status": 201,
        "pushed": {"type": "order_created", "order": {"id": 7}},
    }


async def test_the_inspector_shows_a_row_per_http_request(
    browser: Any, mock: RunningServer
) -> None:
    """An HTTP call shows in the inspector's log as method, status, path and time."""
    import aiohttp
    from playwright.async_api import expect

    page = await browser.new_page()
    await page.goto(mock.http_url("/__mockws/"))
    await expect(page.locator("#status")).to_have_text("live")
    await expect(page.locator("#endpoints")).to_contain_text("PUT /api/items/{id}")
    async with aiohttp.ClientSession() as http:
        url, trace = mock.http_url("/api/items/9?token=abc"), {"X-Trace": "t"}
        async with http.put(url, json={"a": 1}, headers=trace) as response:
            assert response.status == 200
    row = page.locator("#log .row.http", has_text="PUT 200")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("/api/items/9?token=***")
    await expect(row).to_contain_text(" ms")
