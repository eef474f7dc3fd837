"""YAML with the line of every key (mockws/config/yaml_source.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockws.config.yaml_source import SourceMap, load_yaml
from mockws.errors import ConfigError

FILE = Path("/project/dev.yaml")

CONFIG = """\
# a comment first
port: 8765
limits:
  max_connections: 10

endpoints:
  - pattern: /ws/chat
    handler: chat.py
  -
    pattern: /ws/feed
    handler: feed.py
    subprotocols: [a,
      b]
"""


def test_data_is_what_safe_load_gives() -> None:
    """The data returned is the plain parse of the text."""
    data, _ = load_yaml(CONFIG, FILE)
    assert data["port"] == 8765
    assert data["endpoints"][1] == {
        "pattern": "/ws/feed",
        "handler": "feed.py",
        "subprotocols": ["a", "b"],
    }


def test_every_key_and_item_has_its_line() -> None:
    """Mapping keys get the line of the key, list items the line they start on."""
    _, source = load_yaml(CONFIG, FILE)
    assert source.file == FILE
    expected = {
        "port": 2,
        "limits": 3,
        "limits.max_connections": 4,
        "endpoints": 6,
        "endpoints[0]": 7,
        "endpoints[0].pattern": 7,
        "endpoints[0].handler": 8,
        "endpoints[1]": 10,
        "endpoints[1].pattern": 10,
        "endpoints[1].subprotocols": 12,
        "endpoints[1].subprotocols[0]": 12,
        "endpoints[1].subprotocols[1]": 13,
    }
    assert {key: source.line_of(key) for key in expected} == expected


def test_the_root_is_where_the_document_starts() -> None:
    """The empty key path is the line the top-level mapping starts on."""
    _, source = load_yaml(CONFIG, FILE)
    assert source.line_of("") == 2


def test_a_key_without_a_line_falls_back_to_its_nearest_ancestor() -> None:
    """An unset key is reported where the closest mapping or item that exists starts."""
    _, source = load_yaml(CONFIG, FILE)
    assert source.line_of("endpoints[1].heartbeat") == 10
    assert source.line_of("endpoints[0].compression.threshold") == 7
    assert source.line_of("limits.send_high_water") == 3
    assert source.line_of("endpoints[5].pattern") == 6


def test_a_top_level_key_without_a_line_gets_the_default_line() -> None:
    """A missing top-level key has no ancestor, so it gets line 1."""
    _, source = load_yaml(CONFIG, FILE)
    assert source.line_of("reload") == 1


def test_flow_mappings_record_lines_too() -> None:
    """Keys of a flow mapping spread over lines each get their own line."""
    _, source = load_yaml("compression: {enabled: true,\n  threshold: 5}\n", FILE)
    assert source.line_of("compression.enabled") == 1
    assert source.line_of("compression.threshold") == 2


def test_empty_text_is_none_with_no_lines() -> None:
    """An empty document is None; every key falls back to line 1."""
    data, source = load_yaml("", FILE)
    assert data is None
    assert source.lines == {}
    assert source.line_of("port") == 1


def test_source_map_error_names_file_line_and_key() -> None:
    """SourceMap.error builds a ConfigError with the key's line and path."""
    _, source = load_yaml(CONFIG, FILE)
    error = source.error("endpoints[1].handler", "cannot load it")
    assert (error.file, error.line, error.key) == (FILE, 11, "endpoints[1].handler")
    assert str(error) == "/project/dev.yaml:11: endpoints[1].handler: cannot load it"


def test_source_map_error_for_the_top_level_has_no_key() -> None:
    """An error at the empty key path names the file and line but no key."""
    error = SourceMap(file=FILE, lines={"": 3}).error("", "expected a mapping")
    assert error.key is None
    assert str(error) == "/project/dev.yaml:3: expected a mapping"


def test_a_bare_source_map_has_no_line() -> None:
    """A SourceMap with no lines and no default line reports no line."""
    error = SourceMap().error("port", "bad")
    assert error.line is None
    assert str(error) == "<config>: port: bad"


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        ("port: 1\nhost: x\nport: 2\n", "port", 3),
        ("limits:\n  max_queue: 1\n  max_queue: 2\n", "limits.max_queue", 3),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    pattern: /b\n",
            "endpoints[0].pattern",
            4,
        ),
        ("compression: {enabled: true, enabled: false}\n", "compression.enabled", 1),
    ],
)
def test_a_key_given_twice_is_an_error_at_its_second_line(text: str, key: str, line: int) -> None:
    """A repeated key in one mapping is a ConfigError at the repetition's line."""
    with pytest.raises(ConfigError) as caught:
        load_yaml(text, FILE)
    assert (caught.value.file, caught.value.line, caught.value.key) == (FILE, line, key)
    assert caught.value.message == "key is given twice in the same mapping"


def test_the_same_key_in_different_mappings_is_fine() -> None:
    """The same key in two different mappings is not a repetition."""
    data, _ = load_yaml("a: {x: 1}\nb: {x: 2}\n", FILE)
    assert data == {"a": {"x": 1}, "b": {"x": 2}}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("port: 1\nendpoints: [a, b\n", 3, "expected ',' or ']'"),
        ("port: 1\nhost: 'open\n", 3, "found unexpected end of stream"),
        ("a: 1\n b: 2\n", 2, "mapping values are not allowed here"),
        ("a: 1\n---\nb: 2\n", 2, "found another document"),
        ("a: !!python/object:os.system x\n", 1, "could not determine a constructor"),
    ],
)
def test_invalid_yaml_is_an_error_with_the_parser_line(text: str, line: int, problem: str) -> None:
    """Text the parser rejects is a ConfigError at the line the parser stopped on."""
    with pytest.raises(ConfigError) as caught:
        load_yaml(text, FILE)
    error = caught.value
    assert (error.file, error.line, error.key) == (FILE, line, None)
    assert error.message.startswith("invalid YAML: ")
    assert problem in error.message


def test_unreadable_characters_are_a_config_error() -> None:
    """A character YAML forbids is a ConfigError naming the file, not a raw YAMLError."""
    with pytest.raises(ConfigError) as caught:
        load_yaml("port: 1\x00\n", FILE)
    assert caught.value.file == FILE
    assert caught.value.message.startswith("invalid YAML: ")


def test_a_self_referencing_alias_is_a_config_error() -> None:
    """An anchor whose value contains its own alias loads or raises ConfigError."""
    try:
        load_yaml("endpoints: &loop [*loop]\n", FILE)
    except ConfigError:
        pass
