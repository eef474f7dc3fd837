"""The Origin policy (mockws/origins.py)."""

import pytest

from mockws.origins import origin_allowed


@pytest.mark.parametrize(
    "origin",
    [None, "http://localhost:5173", "https://127.0.0.1", "http://[::1]:3000", "HTTP://LOCALHOST"],
)
def test_default_allows_loopback_and_no_origin(origin: str | None) -> None:
    """By default, browsers on loopback pages and non-browser clients may connect."""
    assert origin_allowed(origin, None)


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "file://",
        "http://localhost.evil.com",
        "ftp://localhost",
        "http://localhost:99999",
    ],
)
def test_default_refuses_other_sites(origin: str) -> None:
    """By default, any other page's origin is refused."""
    assert not origin_allowed(origin, None)


def test_explicit_list_and_wildcard() -> None:
    """A list allows exactly its entries; '*' allows all."""
    allowed = ["http://localhost:5173", "https://app.test/"]
    assert origin_allowed("https://app.test", allowed)
    assert not origin_allowed("http://localhost:5174", allowed)
    assert origin_allowed("https://anything.example", ["*"])
