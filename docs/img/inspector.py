"""Regenerate docs/img/inspector.png: the example config with a little traffic.

    python docs/img/inspector.py

Needs Python playwright and Debian's chromium (/usr/bin/chromium); it never
downloads a browser.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from mockws.testing import run_server  # noqa: E402 - after the path set-up above

OUTPUT = Path(__file__).with_name("inspector.png")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def main() -> None:
    async with run_server(ROOT / "config.example.yaml") as server:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=ARGS
            )
            page = await browser.new_page(viewport={"width": 1400, "height": 820})
            await page.goto(server.http_url("/__mockws/"))
            await page.wait_for_selector("#status.live")
            alice = await server.connect("/ws/chat", query={"token": "alice-secret"})
            bob = await server.connect("/ws/chat")
            board = await server.connect("/ws/dashboard")
            await server.connect("/ws/games/g42")
            for client in (alice, bob):
                await client.send({"type": "join", "room": "lobby"})
            await alice.send({"type": "chat", "room": "lobby", "text": "Is the build green?"})
            await bob.send({"type": "chat", "room": "lobby", "text": "Yes, shipping now"})
            await board.send({"type": "subscribe", "channel": "cpu"})
            await bob.send(bytes.fromhex("89504e470d0a1a0a0000000d49484452"))
            await asyncio.sleep(2.2)
            await page.locator("#connections tbody tr", has_text="c2").click()
            await page.locator("#payload").fill('{"type": "chat", "room": "lobby", "text": "hi"}')
            await page.locator("#send").click()
            await page.wait_for_selector("#composer-result.ok")
            await page.screenshot(path=str(OUTPUT))
            await browser.close()
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    asyncio.run(main())
