"""Durations: the spellings every time-valued key accepts and refuses."""

from __future__ import annotations

import pytest

from mockws.config.durations import DurationRange, parse_duration, parse_duration_range


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("2s", 2.0), ("1m", 60.0), ("1.5s", 1.5), (3, 3.0), (0.5, 0.5), ("0ms", 0.0)],
)
def test_accepted_spellings(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["5 sec", "5", "ms", "-1s", True, -2, None, "1h", "2 s"])
def test_refused_spellings_say_what_is_accepted(text: object) -> None:
    with pytest.raises(ValueError, match="250ms, 2s, 1m"):
        parse_duration(text)


def test_a_range_is_two_durations_low_first() -> None:
    assert parse_duration_range(["100ms", "400ms"]) == DurationRange(0.1, 0.4)
    assert parse_duration_range("50ms").fixed
    with pytest.raises(ValueError, match="above its high end"):
        parse_duration_range(["2s", "1s"])
    with pytest.raises(ValueError, match="list of 3"):
        parse_duration_range(["1s", "2s", "3s"])
