"""Pattern compilation and first-match routing (mockws/server/router.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockws.config.patterns import PatternError, compile_pattern
from mockws.server.router import Router

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)


def test_literal_pattern_matches_only_itself() -> None:
    """A literal pattern matches its exact path and nothing else."""
    compiled = compile_pattern("/ws/chat")
    assert compiled.match("/ws/chat") == {}
    assert compiled.match("/ws/chat/") is None
    assert compiled.match("/ws/chatx") is None


def test_placeholder_captures_one_segment() -> None:
    """{name} captures exactly one non-empty segment."""
    compiled = compile_pattern("/ws/rooms/{room}/users/{user}")
    assert compiled.match("/ws/rooms/lobby/users/ann") == {"room": "lobby", "user": "ann"}
    assert compiled.match("/ws/rooms/a/b/users/ann") is None
    assert compiled.match("/ws/rooms//users/ann") is None


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("ws/chat", "must start with '/'"),
        ("/ws//chat", "empty segment"),
        ("/ws/chat/", "empty segment"),
        ("/ws/room-{id}", "whole segment"),
        ("/ws/{1abc}", "identifier"),
        ("/ws/{}", "identifier"),
        ("/ws/{a}/{a}", "used twice"),
    ],
)
def test_bad_patterns_are_rejected_with_the_pattern_quoted(pattern: str, fragment: str) -> None:
    """Each malformed pattern raises PatternError naming the pattern."""
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert fragment in str(caught.value)
    assert repr(pattern) in str(caught.value)


def test_first_match_wins() -> None:
    """When two patterns match, the earlier one is chosen."""
    router = Router("", [("/ws/{name}", "param"), ("/ws/fixed/x", "other")])
    router2 = Router("", [("/ws/fixed", "literal"), ("/ws/{name}", "param")])
    match = router2.match("/ws/fixed")
    assert match is not None and match.target == "literal"
    match = router.match("/ws/fixed")
    assert match is not None and match.target == "param" and match.params == {"name": "fixed"}


def test_same_shape_patterns_are_duplicates() -> None:
    """Two patterns that differ only in placeholder names are a conflict."""
    with pytest.raises(PatternError, match="duplicates"):
        Router("", [("/ws/{a}", 1), ("/ws/{b}", 2)])


def test_prefix_is_required_and_stripped() -> None:
    """With a prefix, only paths under it match, and the root pattern serves the prefix."""
    router = Router("/api/", [("/ws/chat", "chat"), ("/", "root")])
    assert router.prefix == "/api"
    assert router.match("/ws/chat") is None
    match = router.match("/api/ws/chat")
    assert match is not None and match.target == "chat"
    match = router.match("/api")
    assert match is not None and match.target == "root"


def test_bad_prefix_is_rejected() -> None:
    """A prefix must start with '/'."""
    with pytest.raises(PatternError, match="prefix"):
        Router("api", [])


@given(st.lists(segment, min_size=1, max_size=5), st.data())
def test_placeholders_capture_what_was_substituted(parts: list[str], data: st.DataObject) -> None:
    """Substituting values into a pattern's placeholders matches back to those values."""
    flags = data.draw(st.lists(st.booleans(), min_size=len(parts), max_size=len(parts)))
    names = [f"p{index}" for index in range(len(parts))]
    pattern = "/" + "/".join(
        f"{{{name}}}" if flag else part
        for name, part, flag in zip(names, parts, flags, strict=True)
    )
    path = "/" + "/".join(parts)
    expected = {name: part for name, part, flag in zip(names, parts, flags, strict=True) if flag}
    assert compile_pattern(pattern).match(path) == expected


@given(st.text(max_size=30))
def test_compile_never_fails_other_than_pattern_error(pattern: str) -> None:
    """Any string either compiles or raises PatternError."""
    try:
        compiled = compile_pattern(pattern)
    except PatternError:
        return
    assert compiled.pattern == pattern
