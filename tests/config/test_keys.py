"""Typed key reading with file:line:key errors (mockws/config/keys.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockws.config.keys import KeyReader, describe_value, expand_env
from mockws.config.yaml_source import SourceMap, load_yaml
from mockws.errors import ConfigError

FILE = Path("/project/dev.yaml")


def top(text: str) -> KeyReader:
    """A reader of the top-level mapping of ``text``, with its lines."""
    data, source = load_yaml(text, FILE)
    return KeyReader(data, "", source)


def section(text: str, name: str = "section") -> KeyReader:
    """A reader of the mapping under ``name`` in ``text``."""
    reader = top(text).child(name)
    assert reader is not None
    return reader


def error_of(read: Any) -> str:
    """Call ``read`` and return the ConfigError it raises, as the user sees it."""
    with pytest.raises(ConfigError) as caught:
        read()
    return str(caught.value)


@pytest.mark.parametrize(
    ("value", "described"),
    [
        (None, "null"),
        (True, "a boolean"),
        (3, "the number 3"),
        (2.5, "the number 2.5"),
        ("x", "'x'"),
        ({"a": 1}, "a mapping"),
        ([1], "a list"),
        ((1,), "a list"),
        (b"x", "bytes"),
    ],
)
def test_describe_value(value: object, described: str) -> None:
    """Values are described by their text, number or kind."""
    assert describe_value(value) == described


def test_a_non_mapping_is_refused_at_its_key() -> None:
    """KeyReader over a list or scalar is an error naming what was expected and got."""
    data, source = load_yaml("port: 1\nlimits: [1, 2]\n", FILE)
    assert error_of(lambda: KeyReader(data["limits"], "limits", source)) == (
        "/project/dev.yaml:2: limits: expected a mapping, got a list"
    )
    assert error_of(lambda: KeyReader(5, "limits", source, "a mapping {a, b}")) == (
        "/project/dev.yaml:2: limits: expected a mapping {a, b}, got the number 5"
    )


def test_path_is_dotted_below_the_top_level() -> None:
    """Key paths are the bare name at the top level and dotted inside a section."""
    assert top("a: 1\n").path("a") == "a"
    assert section("section:\n  a: 1\n").path("a") == "section.a"
    assert top("a: 1\n").key == "" and section("section:\n  a: 1\n").key == "section"


def test_child_is_none_when_unset_and_reads_the_nested_mapping() -> None:
    """child() gives None for an unset key, else a reader whose errors use the nested path."""
    reader = top("port: 1\nlimits:\n  max_queue: many\n")
    assert reader.child("nothing") is None
    limits = reader.child("limits")
    assert limits is not None
    assert error_of(lambda: limits.integer("max_queue", 1)) == (
        "/project/dev.yaml:3: limits.max_queue: expected a whole number, got 'many'"
    )


def test_has_reports_keys_that_are_set() -> None:
    """has() is true for a key present in the mapping, even with a null value."""
    reader = top("a: null\n")
    assert reader.has("a")
    assert not reader.has("b")


def test_string_reads_strings_and_defaults() -> None:
    """string() returns the text, or the default when the key is unset."""
    reader = section("section:\n  name: chat\n")
    assert reader.string("name") == "chat"
    assert reader.string("other", "fallback") == "fallback"
    assert reader.string("missing") is None


def test_string_of_another_type_is_an_error() -> None:
    """A number where a string belongs is an error at the key's line."""
    reader = section("section:\n  x: 1\n  name: 5\n")
    assert error_of(lambda: reader.string("name")) == (
        "/project/dev.yaml:3: section.name: expected a string, got the number 5"
    )


def test_required_key_missing_is_reported_at_the_mapping() -> None:
    """A missing required key is an error at the mapping's own key and line."""
    reader = section("port: 1\nsection:\n  handler: h.py\n")
    assert error_of(lambda: reader.string("pattern", required=True)) == (
        "/project/dev.yaml:2: section: missing required key 'pattern'"
    )
    assert error_of(lambda: reader.require("pattern")).endswith("missing required key 'pattern'")


def test_required_key_missing_at_the_top_level_has_no_key() -> None:
    """At the top level the missing-key error names the file and line only."""
    assert error_of(lambda: top("port: 1\n").require("endpoints")) == (
        "/project/dev.yaml:1: missing required key 'endpoints'"
    )


def test_required_key_present_is_returned() -> None:
    """require() returns the value of a key that is set, of any type."""
    assert top("a: [1]\n").require("a") == [1]


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("yes", True)])
def test_boolean_reads_yaml_booleans(text: str, value: bool) -> None:
    """boolean() accepts YAML's true and false."""
    assert top(f"flag: {text}\n").boolean("flag", not value) is value


def test_boolean_default_and_refusals() -> None:
    """An unset boolean is its default; a quoted 'true' or a 1 is an error."""
    assert top("x: 1\n").boolean("flag", True) is True
    assert error_of(lambda: top("flag: 'true'\n").boolean("flag", False)) == (
        "/project/dev.yaml:1: flag: expected true or false, got 'true'"
    )
    assert error_of(lambda: top("a: 0\nflag: 1\n").boolean("flag", False)) == (
        "/project/dev.yaml:2: flag: expected true or false, got the number 1"
    )


@pytest.mark.parametrize(("text", "value"), [("42", 42), ("'42'", 42), ("' 7 '", 7), ("0", 0)])
def test_integer_reads_numbers_and_digit_strings(text: str, value: int) -> None:
    """integer() takes a whole number or a string of digits."""
    assert top(f"n: {text}\n").integer("n", 1) == value


def test_integer_default_when_unset() -> None:
    """An unset integer is its default."""
    assert top("x: 1\n").integer("n", 99) == 99


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.5", "expected a whole number of bytes, got the number 1.5"),
        ("true", "expected a whole number of bytes, got a boolean"),
        ("'-3'", "expected a whole number of bytes, got '-3'"),
        ("[1]", "expected a whole number of bytes, got a list"),
    ],
)
def test_integer_of_another_type_is_an_error_with_the_unit(text: str, message: str) -> None:
    """Floats, booleans, signed strings and lists are refused, naming the unit."""
    reader = top(f"x: 0\nn: {text}\n")
    assert error_of(lambda: reader.integer("n", 1, unit=" of bytes")) == (
        f"/project/dev.yaml:2: n: {message}"
    )


def test_integer_bounds() -> None:
    """Values below the minimum or above the maximum are errors naming the bounds."""
    assert top("n: 1\n").integer("n", 5, minimum=1, maximum=10) == 1
    assert top("n: 10\n").integer("n", 5, minimum=1, maximum=10) == 10
    assert error_of(lambda: top("n: 0\n").integer("n", 5, minimum=1)) == (
        "/project/dev.yaml:1: n: expected a number >= 1, got 0"
    )
    assert error_of(lambda: top("n: -1\n").integer("n", 5)) == (
        "/project/dev.yaml:1: n: expected a number >= 0, got -1"
    )
    assert error_of(lambda: top("n: 11\n").integer("n", 5, minimum=1, maximum=10)) == (
        "/project/dev.yaml:1: n: expected a number between 1 and 10, got 11"
    )


def test_integer_bounds_apply_to_digit_strings() -> None:
    """A digit string out of bounds is refused like the number it spells."""
    assert error_of(lambda: top("port: '70000'\n").integer("port", 1, maximum=65535)) == (
        "/project/dev.yaml:1: port: expected a number between 0 and 65535, got 70000"
    )


def test_integer_of_a_superscript_digit_is_a_config_error() -> None:
    """A string of digits int() cannot parse is a ConfigError at its key."""
    reader = top("port: '²'\n")
    assert error_of(lambda: reader.integer("port", 1)).startswith("/project/dev.yaml:1: port:")


@pytest.mark.parametrize(("text", "value"), [("2", 2.0), ("0.25", 0.25), ("0", None)])
def test_seconds_are_floats_and_zero_is_off(text: str, value: float | None) -> None:
    """seconds() returns a float, and 0 means off (None)."""
    result = top(f"t: {text}\n").seconds("t")
    assert result == value
    assert result is None or isinstance(result, float)


def test_seconds_unset_or_null_is_off() -> None:
    """An unset or null number of seconds is None."""
    assert top("x: 1\n").seconds("t") is None
    assert top("t: null\n").seconds("t") is None


@pytest.mark.parametrize(
    ("text", "got"), [("-1", "the number -1"), ("fast", "'fast'"), ("true", "a boolean")]
)
def test_seconds_refuse_negatives_text_and_booleans(text: str, got: str) -> None:
    """Negative numbers, strings and booleans are not a number of seconds."""
    assert error_of(lambda: top(f"x: 1\nt: {text}\n").seconds("t")) == (
        f"/project/dev.yaml:2: t: expected a number of seconds, got {got}"
    )


def test_string_list_reads_lists_and_single_strings() -> None:
    """string_list() gives a tuple; one string is a list of one; unset is None."""
    reader = top("a: [x, y]\nb: solo\n")
    assert reader.string_list("a") == ("x", "y")
    assert reader.string_list("b") == ("solo",)
    assert reader.string_list("c") is None
    assert top("a: []\n").string_list("a") == ()


def test_string_list_errors_point_at_the_list_or_the_item() -> None:
    """A non-list is an error at the key; a non-string item at its own index and line."""
    assert error_of(lambda: top("a: {x: 1}\n").string_list("a")) == (
        "/project/dev.yaml:1: a: expected a list of strings, got a mapping"
    )
    reader = section("section:\n  a:\n    - ok\n    - 5\n")
    assert error_of(lambda: reader.string_list("a")) == (
        "/project/dev.yaml:4: section.a[1]: expected a string, got the number 5"
    )


def test_string_list_token_checks_each_item() -> None:
    """With token=True, items must be HTTP tokens; the bad item is named with its line."""
    good = top("p: [chat.v1, json, x-y_z~1, 'a+b']\n").string_list("p", token=True)
    assert good == ("chat.v1", "json", "x-y_z~1", "a+b")
    reader = top("p:\n  - chat.v1\n  - 'bad proto'\n")
    assert error_of(lambda: reader.string_list("p", token=True)) == (
        "/project/dev.yaml:3: p[1]: 'bad proto' is not a valid protocol token"
    )
    assert error_of(lambda: top("p: ['']\n").string_list("p", token=True)).endswith(
        "p[0]: '' is not a valid protocol token"
    )


def test_string_list_without_token_allows_any_text() -> None:
    """Without token=True, items with spaces or slashes are kept."""
    assert top("a: ['x y', 'http://h']\n").string_list("a") == ("x y", "http://h")


def test_string_list_items_expand_env_before_the_token_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """${VAR} expands in each item, and the token check sees the expanded text."""
    monkeypatch.setenv("MOCKWS_TEST_PROTO", "chat.v2")
    monkeypatch.setenv("MOCKWS_TEST_SPACE", "has space")
    assert top("p: ['${MOCKWS_TEST_PROTO}']\n").string_list("p", token=True) == ("chat.v2",)
    assert error_of(lambda: top("p: ['${MOCKWS_TEST_SPACE}']\n").string_list("p", token=True)) == (
        "/project/dev.yaml:1: p[0]: 'has space' is not a valid protocol token"
    )


def test_finish_accepts_keys_that_were_read() -> None:
    """finish() is silent when every key was read, even if read as unset."""
    reader = top("a: 1\nb: x\n")
    reader.integer("a", 0)
    reader.raw("b")
    reader.string("c")
    reader.finish(("a", "b", "c"))


def test_finish_suggests_the_closest_known_key() -> None:
    """An unread key is an error at its line, with a did-you-mean and the known keys."""
    reader = section("section:\n  pattern: /a\n  hartbeat: 3\n")
    reader.string("pattern")
    assert error_of(lambda: reader.finish(("pattern", "heartbeat"))) == (
        "/project/dev.yaml:3: section.hartbeat: unknown key (did you mean 'heartbeat'?); "
        "known keys: pattern, heartbeat"
    )


def test_finish_without_a_close_match_lists_the_known_keys() -> None:
    """An unknown key that resembles nothing gets no suggestion."""
    assert error_of(lambda: top("zzzz: 1\n").finish(("port", "host"))) == (
        "/project/dev.yaml:1: zzzz: unknown key; known keys: port, host"
    )


def test_finish_reports_the_first_unknown_key_in_file_order() -> None:
    """With several unknown keys, the first one in the mapping is reported."""
    assert "qqq: unknown key" in error_of(lambda: top("qqq: 1\nwww: 2\n").finish(("port",)))


def test_finish_names_a_non_string_key() -> None:
    """A key YAML reads as a number is named by its text."""
    assert error_of(lambda: top("1: x\n").finish(("port",))) == (
        "/project/dev.yaml:1: 1: unknown key; known keys: port"
    )


def test_reader_errors_name_the_key_path() -> None:
    """KeyReader.error builds a ConfigError for a name below the mapping."""
    reader = section("x: 1\nsection:\n  jwt: {}\n")
    error = reader.error("jwt", "give exactly one")
    assert (error.file, error.line, error.key) == (FILE, 3, "section.jwt")
    assert reader.source.file == FILE


def test_string_expands_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """string() replaces ${VAR} and ${VAR:-default} from the environment."""
    monkeypatch.setenv("MOCKWS_TEST_HOST", "10.0.0.1")
    monkeypatch.delenv("MOCKWS_TEST_UNSET", raising=False)
    reader = top("a: ${MOCKWS_TEST_HOST}\nb: ${MOCKWS_TEST_UNSET:-fallback}\n")
    assert reader.string("a") == "10.0.0.1"
    assert reader.string("b") == "fallback"


def test_string_with_an_unset_variable_names_it_file_line_and_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unset variable without a default is an error at the string's key."""
    monkeypatch.delenv("MOCKWS_TEST_UNSET", raising=False)
    reader = section("x: 1\nsection:\n  secret: 'key-${MOCKWS_TEST_UNSET}'\n")
    assert error_of(lambda: reader.string("secret")) == (
        "/project/dev.yaml:3: section.secret: environment variable MOCKWS_TEST_UNSET is not set "
        "(write ${MOCKWS_TEST_UNSET:-default} to give one)"
    )


SOURCE = SourceMap(file=FILE, lines={"k": 7})


@pytest.mark.parametrize(
    ("value", "expanded"),
    [
        ("plain", "plain"),
        ("$MOCKWS_TEST_A", "$MOCKWS_TEST_A"),
        ("${MOCKWS_TEST_A}", "alpha"),
        ("x${MOCKWS_TEST_A}y${MOCKWS_TEST_B}z", "xalphaybetaz"),
        ("${MOCKWS_TEST_A:-unused}", "alpha"),
        ("${MOCKWS_TEST_UNSET:-dev-secret}", "dev-secret"),
        ("${MOCKWS_TEST_UNSET:-}", ""),
        ("${MOCKWS_TEST_UNSET:-a b:c}", "a b:c"),
        ("${MOCKWS_TEST_EMPTY:-default}", ""),
        ("${1BAD}", "${1BAD}"),
        ("${MOCKWS_TEST_NESTED}", "${MOCKWS_TEST_A}"),
    ],
)
def test_expand_env(monkeypatch: pytest.MonkeyPatch, value: str, expanded: str) -> None:
    """${VAR} takes the variable, ${VAR:-default} the default only when VAR is unset."""
    monkeypatch.setenv("MOCKWS_TEST_A", "alpha")
    monkeypatch.setenv("MOCKWS_TEST_B", "beta")
    monkeypatch.setenv("MOCKWS_TEST_EMPTY", "")
    monkeypatch.setenv("MOCKWS_TEST_NESTED", "${MOCKWS_TEST_A}")
    monkeypatch.delenv("MOCKWS_TEST_UNSET", raising=False)
    assert expand_env(value, SOURCE, "k") == expanded


def test_expand_env_unset_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unset-variable error carries the SourceMap's file and the key's line."""
    monkeypatch.delenv("MOCKWS_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError) as caught:
        expand_env("${MOCKWS_TEST_UNSET}", SOURCE, "k")
    assert (caught.value.file, caught.value.line, caught.value.key) == (FILE, 7, "k")
    assert "environment variable MOCKWS_TEST_UNSET is not set" in caught.value.message


def test_duration_errors_name_the_key_and_line() -> None:
    reader = section("every:\n  interval: 5 sec\n", "every")
    assert "dev.yaml:2: every.interval: expected a duration like 250ms" in error_of(
        lambda: reader.duration("interval")
    )
    assert section("every:\n  interval: 250ms\n", "every").duration("interval") == 0.25


def test_duration_range_reads_one_value_or_two() -> None:
    reader = section("d:\n  one: 2s\n  two: [100ms, 1s]\n  bad: [1s]\n", "d")
    one, two = reader.duration_range("one"), reader.duration_range("two")
    assert one is not None and one.fixed and one.low == 2.0
    assert two is not None and (two.low, two.high) == (0.1, 1.0)
    assert "d.bad: expected a duration or [low, high]" in error_of(
        lambda: reader.duration_range("bad")
    )
