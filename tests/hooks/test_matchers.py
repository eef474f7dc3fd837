"""Compiled matchers and the first-match index (mockws/hooks/matchers.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockws.config.matchers_load import parse_matcher
from mockws.config.rules import Matcher
from mockws.config.yaml_source import SourceMap
from mockws.hooks.matchers import RuleIndex, compile_matcher

SOURCE = SourceMap(file=Path("dev.yaml"))


def matcher(value: Any) -> Matcher:
    return parse_matcher(value, "match", SOURCE)


def test_no_match_key_matches_everything() -> None:
    """A rule without match takes text, JSON and binary alike."""
    check = compile_matcher(matcher(None))
    assert all(check(value) for value in ("x", {"a": 1}, [1], b"\x00", None, 3))


def test_kinds_are_strict() -> None:
    """true is not 1, "1" is not 1, and 1 is 1.0 (one JSON number)."""
    check = compile_matcher(matcher({"n": 1}))
    assert check({"n": 1}) and check({"n": 1.0})
    assert not check({"n": True}) and not check({"n": "1"})
    assert compile_matcher(matcher({"b": True}))({"b": True})
    assert not compile_matcher(matcher({"b": True}))({"b": 1})


def test_an_index_over_one_field_skips_the_rules_of_other_values() -> None:
    """Rules comparing type with another constant are not candidates; rules without it are."""
    entries = [(matcher({"type": f"t{n}"}), n) for n in range(5)]
    entries.insert(2, (matcher({"other": 1}), "other"))
    index = RuleIndex(entries)
    assert index.field == "type"
    assert index.candidates({"type": "t4"}) == ("other", 4)
    assert index.candidates({"type": "nope"}) == ("other",)
    assert index.candidates({"no_type": 1}) == ("other",)
    assert index.candidates("text") == ("other",)
    assert index.candidates({"type": ["unhashable"]}) == ("other",)


def test_one_rule_needs_no_index() -> None:
    """Below two rules on one field there is nothing to index."""
    index = RuleIndex([(matcher({"type": "a"}), "a")])
    assert index.field is None and index.candidates({"type": "b"}) == ("a",)


_values = st.one_of(
    st.sampled_from(["a", "b", "c"]), st.integers(0, 2), st.booleans(), st.none(), st.floats(0, 2)
)
_patterns = st.dictionaries(st.sampled_from(["type", "kind", "n"]), _values, max_size=2)
_messages = st.one_of(
    st.dictionaries(st.sampled_from(["type", "kind", "n", "x"]), _values, max_size=3),
    st.text(max_size=3),
    st.lists(_values, max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_patterns, min_size=1, max_size=8), _messages)
def test_the_index_never_changes_which_rule_wins(patterns: list[Any], message: Any) -> None:
    """First match over the index's candidates equals first match over every rule."""
    compiled = [(matcher(pattern), index) for index, pattern in enumerate(patterns)]
    checks = {index: compile_matcher(m) for m, index in compiled}
    naive = next((index for _, index in compiled if checks[index](message)), None)
    indexed = RuleIndex(compiled).candidates(message)
    assert next((index for index in indexed if checks[index](message)), None) == naive
