"""The URL pattern grammar (mockws/config/patterns.py).

Matching and the malformed-pattern fragments are in tests/server/test_router.py;
this module pins the exact messages, shapes, duplicate detection and prefixes.
"""

from __future__ import annotations

import pytest

from mockws.config.patterns import (
    DuplicatePattern,
    PatternError,
    compile_distinct,
    compile_pattern,
    join_prefix,
    normalize_prefix,
)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("ws/chat", "pattern 'ws/chat' must start with '/'"),
        ("", "pattern '' must start with '/'"),
        ("//ws", "pattern '//ws' has an empty segment ('//' or a trailing '/')"),
        (
            "/ws/{a}{b}",
            "pattern '/ws/{a}{b}': a placeholder must be a whole segment, "
            "like '/{name}', not '{a}{b}'",
        ),
        (
            "/ws/{room",
            "pattern '/ws/{room': a placeholder must be a whole segment, "
            "like '/{name}', not '{room'",
        ),
        (
            "/ws/room}",
            "pattern '/ws/room}': a placeholder must be a whole segment, "
            "like '/{name}', not 'room}'",
        ),
        (
            "/ws/{my-room}",
            "pattern '/ws/{my-room}': placeholder {my-room} must be a Python identifier",
        ),
        (
            "/ws/{ room }",
            "pattern '/ws/{ room }': placeholder { room } must be a Python identifier",
        ),
        ("/{a}/x/{a}", "pattern '/{a}/x/{a}': placeholder {a} is used twice"),
    ],
)
def test_errors_give_the_exact_message_with_the_pattern(pattern: str, message: str) -> None:
    """Each malformed pattern raises PatternError whose whole message quotes the pattern."""
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert str(caught.value) == message


def test_pattern_error_is_a_value_error() -> None:
    """PatternError derives from ValueError, so callers catching ValueError see it."""
    with pytest.raises(ValueError):
        compile_pattern("nope")


def test_root_pattern_matches_only_the_root() -> None:
    """'/' compiles with no parameters and shape '/', and matches '/' alone."""
    root = compile_pattern("/")
    assert (root.pattern, root.param_names, root.shape) == ("/", (), "/")
    assert root.match("/") == {}
    assert root.match("") is None
    assert root.match("/x") is None


@pytest.mark.parametrize(
    ("pattern", "shape", "names"),
    [
        ("/ws/chat", "/ws/chat", ()),
        ("/ws/{room}", "/ws/{}", ("room",)),
        ("/games/{game_id}/players/{player}", "/games/{}/players/{}", ("game_id", "player")),
        ("/{_a1}/{B}", "/{}/{}", ("_a1", "B")),
    ],
)
def test_shape_replaces_each_placeholder_and_names_keep_their_order(
    pattern: str, shape: str, names: tuple[str, ...]
) -> None:
    """The shape has '{}' for every placeholder; param_names lists them left to right."""
    compiled = compile_pattern(pattern)
    assert compiled.pattern == pattern
    assert compiled.shape == shape
    assert compiled.param_names == names


def test_literal_segments_are_not_regular_expressions() -> None:
    """Regex metacharacters in a literal segment match only themselves."""
    compiled = compile_pattern("/v1.0/a+b/(x)")
    assert compiled.match("/v1.0/a+b/(x)") == {}
    assert compiled.match("/v1x0/a+b/(x)") is None
    assert compiled.match("/v1.0/aab/(x)") is None


def test_placeholder_captures_text_with_regex_characters() -> None:
    """A placeholder captures any segment text, dots and percent escapes included."""
    compiled = compile_pattern("/files/{name}")
    assert compiled.match("/files/a.b%20c") == {"name": "a.b%20c"}


def test_compile_distinct_keeps_the_order() -> None:
    """compile_distinct returns one compiled pattern per input, in the order given."""
    compiled = compile_distinct(iter(["/b", "/a/{x}", "/a/fixed", "/"]))
    assert [item.pattern for item in compiled] == ["/b", "/a/{x}", "/a/fixed", "/"]


def test_compile_distinct_of_nothing_is_empty() -> None:
    """No patterns compile to an empty list."""
    assert compile_distinct([]) == []


def test_overlapping_but_different_shapes_are_not_duplicates() -> None:
    """A placeholder and a literal at the same place, or placeholders moved, are distinct."""
    compiled = compile_distinct(["/ws/{name}", "/ws/chat", "/{a}/x", "/x/{a}"])
    assert len(compiled) == 4


def test_duplicate_names_the_later_pattern_and_its_index() -> None:
    """The later of two same-shape patterns is reported with its index in the list."""
    with pytest.raises(DuplicatePattern) as caught:
        compile_distinct(["/a/{x}", "/b", "/c", "/a/{y}", "/a/{z}"])
    assert caught.value.index == 3
    assert str(caught.value) == "pattern '/a/{y}' duplicates '/a/{x}'"


def test_identical_literals_are_duplicates() -> None:
    """The same literal pattern twice is a duplicate at the second position."""
    with pytest.raises(DuplicatePattern) as caught:
        compile_distinct(["/ws", "/ws"])
    assert caught.value.index == 1
    assert isinstance(caught.value, PatternError)


def test_a_malformed_pattern_is_not_reported_as_a_duplicate() -> None:
    """A bad pattern in the list raises the plain PatternError for that pattern."""
    with pytest.raises(PatternError) as caught:
        compile_distinct(["/a", "a"])
    assert not isinstance(caught.value, DuplicatePattern)
    assert "'a' must start with '/'" in str(caught.value)


@pytest.mark.parametrize(
    ("prefix", "normal"),
    [
        ("", ""),
        ("/", ""),
        ("//", ""),
        ("/api", "/api"),
        ("/api/", "/api"),
        ("/api///", "/api"),
        ("/api/v1/", "/api/v1"),
    ],
)
def test_normalize_prefix_drops_trailing_slashes(prefix: str, normal: str) -> None:
    """A prefix loses its trailing slashes; '' and '/' both mean no prefix."""
    assert normalize_prefix(prefix) == normal


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("api", "prefix 'api' must be empty or start with '/'"),
        (" /api", "prefix ' /api' must be empty or start with '/'"),
        ("/api/{version}", "prefix '/api/{version}' cannot contain placeholders"),
        ("/api}", "prefix '/api}' cannot contain placeholders"),
    ],
)
def test_bad_prefixes_are_rejected_quoting_the_prefix(prefix: str, message: str) -> None:
    """A prefix without a leading '/' or with a brace raises PatternError quoting it."""
    with pytest.raises(PatternError) as caught:
        normalize_prefix(prefix)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("prefix", "pattern", "joined"),
    [
        ("", "/ws/chat", "/ws/chat"),
        ("/", "/ws/chat", "/ws/chat"),
        ("/api", "/ws/{room}", "/api/ws/{room}"),
        ("/api/", "/ws/chat", "/api/ws/chat"),
        ("/api", "/", "/api/"),
    ],
)
def test_join_prefix_puts_the_normalized_prefix_before_the_pattern(
    prefix: str, pattern: str, joined: str
) -> None:
    """join_prefix is the normalized prefix followed by the pattern as written."""
    assert join_prefix(prefix, pattern) == joined


def test_join_prefix_validates_the_prefix() -> None:
    """join_prefix refuses a malformed prefix as normalize_prefix does."""
    with pytest.raises(PatternError, match="prefix 'api'"):
        join_prefix("api", "/ws")
