"""Validate a rule's ``match`` into a :class:`~mockws.config.rules.Matcher`.

``match`` is a JSON subset (``{type: chat, user: {role: admin}}``; a list
matches by position; a value may be ``{regex: ...}`` or ``{one_of: [...]}``),
or, when every key is one of these, a matcher of its own kind:

- ``text``: a regex searched in a text message that is not JSON;
- ``json``: a JSON subset (for messages whose fields are named like the keys here);
- ``jsonpath``: a JSONPath (jsonpath-ng's extended syntax) that must find something;
- ``binary: true``: binary messages only.

No ``match`` at all matches every message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .keys import KeyReader, describe_value
from .rules import Equals, Fields, JsonPath, Matcher, OneOf, Pattern, Positions, Regex
from .yaml_source import SourceMap

__all__ = ["MATCHER_KEYS", "parse_matcher", "parse_pattern"]

MATCHER_KEYS = ("text", "json", "jsonpath", "binary")
"""The keys that make ``match`` a matcher of its own kind, when they are its only keys."""


def parse_matcher(value: Any, key: str, source: SourceMap) -> Matcher:
    """Read ``match``; absent (None) matches everything.

    Raises:
        ConfigError: A bad regex, a bad JSONPath, or kinds that cannot hold together.
    """
    if value is None:
        return Matcher()
    if not isinstance(value, Mapping):
        got = describe_value(value)
        raise source.error(key, f"expected a mapping such as {{type: ping}}, got {got}")
    shown = _show(value)
    if not value or not all(name in MATCHER_KEYS for name in value):
        return Matcher(fields=parse_pattern(dict(value), key, source), shown=shown)
    reader = KeyReader(value, key, source)
    text = reader.raw("text")
    if text is not None and (reader.has("json") or reader.has("jsonpath")):
        raise reader.error(
            "text", "'text' matches messages that are not JSON; it cannot go with json or jsonpath"
        )
    binary = reader.raw("binary")
    if binary is not None and not isinstance(binary, bool):
        raise reader.error("binary", f"expected true or false, got {describe_value(binary)}")
    if binary and len(value) > 1:
        raise reader.error("binary", "'binary: true' matches binary messages: it stands alone")
    fields = reader.raw("json")
    matcher = Matcher(
        fields=None if fields is None else parse_pattern(fields, reader.path("json"), source),
        text=None if text is None else _regex(text, reader.path("text"), source),
        jsonpath=_jsonpath(reader.raw("jsonpath"), reader.path("jsonpath"), source),
        binary=binary,
        shown=shown,
    )
    reader.finish(MATCHER_KEYS)
    return matcher


def parse_pattern(value: Any, key: str, source: SourceMap) -> Pattern:
    """Read one node of a JSON subset pattern, recursively.

    Raises:
        ConfigError: A bad regex, or ``one_of`` that is not a list.
    """
    if isinstance(value, Mapping):
        if set(value) == {"regex"}:
            return Regex(_regex(value["regex"], f"{key}.regex", source))
        if set(value) == {"one_of"}:
            options = value["one_of"]
            if not isinstance(options, (list, tuple)) or not options:
                raise source.error(
                    f"{key}.one_of", f"expected a list of values, got {describe_value(options)}"
                )
            return OneOf(
                tuple(
                    parse_pattern(option, f"{key}.one_of[{index}]", source)
                    for index, option in enumerate(options)
                )
            )
        return Fields(
            tuple(
                (str(name), parse_pattern(item, f"{key}.{name}", source))
                for name, item in value.items()
            )
        )
    if isinstance(value, (list, tuple)):
        return Positions(
            tuple(
                parse_pattern(item, f"{key}[{index}]", source) for index, item in enumerate(value)
            )
        )
    return Equals(value)


def _regex(value: Any, key: str, source: SourceMap) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise source.error(key, f"expected a regular expression, got {describe_value(value)}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise source.error(key, f"bad regular expression: {exc}") from None


def _jsonpath(value: Any, key: str, source: SourceMap) -> JsonPath | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise source.error(
            key, f"expected a JSONPath such as '$.items[0]', got {describe_value(value)}"
        )
    # jsonpath-ng (and the ply parser it builds) loads only for configs that use it.
    from jsonpath_ng.ext.parser import parse

    try:
        return JsonPath(value, parse(value))
    except Exception as exc:  # noqa: BLE001 - jsonpath-ng raises several unrelated types
        raise source.error(key, f"bad JSONPath {value!r}: {exc}") from None


def _show(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)
