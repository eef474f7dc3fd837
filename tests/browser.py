"""Headless Chromium for the browser tests, driven by Python Playwright.

A test module marks itself with ``pytestmark = needs_chromium`` and takes a
page from :func:`open_page`; without Playwright or Chromium it skips with
the reason.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def chromium_missing() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "Python playwright is not installed (pip install playwright)"
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "chromium is not installed (apt-get install chromium)"
    return None


needs_chromium = pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))


@asynccontextmanager
async def open_page(*, ignore_https_errors: bool = False) -> AsyncIterator[Any]:
    """Yield a fresh page in headless Chromium; JavaScript errors on it fail the test."""
    from playwright.async_api import async_playwright

    executable = CHROMIUM if CHROMIUM.exists() else Path(str(shutil.which("chromium")))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1400, "height": 860}, ignore_https_errors=ignore_https_errors
            )
            page = await context.new_page()
            page.set_default_timeout(10_000)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        finally:
            await browser.close()
