"""Wait a fixed time, or a time drawn uniformly from a range (rule ``delay``, ``wait`` steps).

One small function so that every feature that delays a message (rules,
network faults) draws and sleeps the same way.
"""

from __future__ import annotations

import asyncio
import random

from ..config.durations import DurationRange

__all__ = ["draw", "pause"]


def draw(duration: DurationRange) -> float:
    """Return the seconds to wait: the fixed value, or uniform in ``[low, high]``."""
    if duration.fixed:
        return duration.low
    return random.uniform(duration.low, duration.high)  # noqa: S311 - jitter, not security


async def pause(duration: DurationRange) -> None:
    """Sleep for :func:`draw` of ``duration`` (no sleep at all for zero)."""
    seconds = draw(duration)
    if seconds > 0:
        await asyncio.sleep(seconds)
