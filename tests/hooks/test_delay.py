"""Delays and jitter (mockws/hooks/delay.py)."""

from __future__ import annotations

import time

from mockws.config.durations import DurationRange
from mockws.hooks.delay import draw, pause


def test_draw_stays_within_the_range_and_spreads() -> None:
    """[low, high] draws uniformly inside the bounds; a fixed duration is itself."""
    drawn = [draw(DurationRange(0.1, 0.4)) for _ in range(2000)]
    assert all(0.1 <= value <= 0.4 for value in drawn)
    assert min(drawn) < 0.15 and max(drawn) > 0.35
    assert draw(DurationRange(0.25, 0.25)) == 0.25


async def test_pause_sleeps_about_the_drawn_time() -> None:
    """pause waits at least the low end."""
    started = time.monotonic()
    await pause(DurationRange(0.05, 0.06))
    assert 0.045 <= time.monotonic() - started < 1.0
    started = time.monotonic()
    await pause(DurationRange(0.0, 0.0))
    assert time.monotonic() - started < 0.05
