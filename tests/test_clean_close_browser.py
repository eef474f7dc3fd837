"""Defect 6: a server-initiated close is clean in Chromium (``wasClean`` is true).

The session used to return, and aiohttp to close TCP, as soon as its read
loop saw the socket closing, before the client's close frame came back;
Chromium then reported ``wasClean == false`` about 2 times in 10.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from mockws.testing import RunningServer, run_server

from .browser import needs_chromium, open_page
from .helpers import WriteFile, endpoint
from .rawws import OP_CLOSE, RawClient, raw_clients  # noqa: F401 - a fixture

pytestmark = needs_chromium

ROUNDS = 30

PAGE_SCRIPT = """
async ([url, rounds, closeUrl]) => {
  const results = [];
  for (let i = 0; i < rounds; i++) {
    const ws = new WebSocket(url);
    const closed = new Promise((resolve) => {
      ws.onclose = (e) => resolve({code: e.code, reason: e.reason, wasClean: e.wasClean});
    });
    const id = await new Promise((resolve) => {
      ws.onmessage = (event) => resolve(JSON.parse(event.data).id);
    });
    const body = JSON.stringify({code: 4000, reason: "bye"});
    await fetch(closeUrl.replace("ID", id), {method: "POST", body});
    results.push(await closed);
  }
  return results;
}
"""

HANDLER = """
async def on_connect(conn):
    await conn.send({"id": conn.id})
"""


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("hello.py", HANDLER)
    config = {"endpoints": [endpoint("/ws", "hello.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


async def test_admin_close_is_clean_in_chromium_every_time(server: RunningServer) -> None:
    """30 closes through the admin API: every one is clean, with the code and reason sent."""
    async with open_page() as page:
        await page.goto(server.http_url("/__mockws/"))
        results: list[dict[str, Any]] = await page.evaluate(
            PAGE_SCRIPT,
            [server.url("/ws"), ROUNDS, server.http_url("/__mockws/api/connections/ID/close")],
        )
    assert len(results) == ROUNDS
    unclean = [result for result in results if not result["wasClean"]]
    assert not unclean, f"{len(unclean)} of {ROUNDS} closes were unclean: {unclean[:3]}"
    assert {(result["code"], result["reason"]) for result in results} == {(4000, "bye")}
