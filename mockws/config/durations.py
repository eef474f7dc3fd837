"""Durations as users write them: ``250ms``, ``2s``, ``1m``, a number of seconds, or a range.

Shared by every key that takes a time (rule ``delay``, ``every.interval``,
fault ``latency``, ...), so that they all accept the same spellings and
refuse the same mistakes (``5 sec``) with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DURATION_HINT", "Duration", "DurationRange", "parse_duration", "parse_duration_range"]

DURATION_HINT = "a duration like 250ms, 2s, 1m or a number of seconds"

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}
_SPELLING = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ms|s|m)\Z")

Duration = float
"""Seconds, as a float."""


@dataclass(frozen=True)
class DurationRange:
    """A fixed time (``low == high``) or a uniform range to draw from, in seconds."""

    low: float
    high: float

    @property
    def fixed(self) -> bool:
        """True when the range is one value."""
        return self.low == self.high


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds.

    Raises:
        ValueError: ``value`` is not a non-negative number or a duration
            string; the message says what is accepted.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected {DURATION_HINT}, got a boolean")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"expected {DURATION_HINT}, got the negative number {value!r}")
        return float(value)
    if isinstance(value, str):
        found = _SPELLING.match(value.strip())
        if found is not None:
            return float(found.group(1)) * _UNITS[found.group(2)]
        raise ValueError(f"expected {DURATION_HINT}, got {value!r}")
    raise ValueError(f"expected {DURATION_HINT}, got {type(value).__name__}")


def parse_duration_range(value: object) -> DurationRange:
    """Return ``value`` (one duration or a ``[low, high]`` list) as a range.

    Raises:
        ValueError: Not a duration, not a two-item list, or low above high.
    """
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"expected a duration or [low, high], got a list of {len(value)}")
        low, high = parse_duration(value[0]), parse_duration(value[1])
        if low > high:
            raise ValueError(f"the range's low end ({value[0]!r}) is above its high end")
        return DurationRange(low, high)
    seconds = parse_duration(value)
    return DurationRange(seconds, seconds)
