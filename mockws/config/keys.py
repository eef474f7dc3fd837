"""Read the keys of one config mapping with type checks, rejecting unknown keys.

Every error names the key's dotted path and its line (through a SourceMap),
so :mod:`~mockws.config.load` and :mod:`~mockws.config.limits` validate
their sections the same way.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .durations import DurationRange, parse_duration, parse_duration_range
from .yaml_source import SourceMap

__all__ = ["KeyReader", "describe_value", "expand_env"]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


def describe_value(value: object) -> str:
    """Describe ``value`` for an error message: its text, number or kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


class KeyReader:
    """Reads the keys of one mapping, checking types and rejecting extras."""

    def __init__(self, data: object, key: str, source: SourceMap, what: str = "a mapping") -> None:
        if not isinstance(data, Mapping):
            raise source.error(key, f"expected {what}, got {describe_value(data)}")
        self._data = data
        self._key = key
        self._source = source
        self._used: set[str] = set()

    @property
    def source(self) -> SourceMap:
        """The line map that errors of this mapping's keys point into."""
        return self._source

    @property
    def key(self) -> str:
        """The dotted key path of this mapping itself (``endpoints[1]``)."""
        return self._key

    def path(self, name: str) -> str:
        """Return the dotted key path of ``name`` in this mapping."""
        return f"{self._key}.{name}" if self._key else name

    def error(self, name: str, message: str) -> ConfigError:
        """Build a ConfigError for key ``name`` with its file and line."""
        return self._source.error(self.path(name), message)

    def has(self, name: str) -> bool:
        """Tell whether the mapping sets ``name``."""
        return name in self._data

    def child(self, name: str, what: str = "a mapping") -> KeyReader | None:
        """Return a reader for the nested mapping ``name``, or None when unset."""
        value = self.raw(name)
        return None if value is None else KeyReader(value, self.path(name), self._source, what)

    def raw(self, name: str, default: Any = None) -> Any:
        """Return the value of ``name`` unchecked, marking it as known."""
        self._used.add(name)
        return self._data.get(name, default)

    def require(self, name: str) -> Any:
        """Return the value of ``name``; its absence is an error.

        A key spelt close to ``name`` is named in the error, at its own line.
        """
        if name not in self._data:
            others = [str(key) for key in self._data if key != name]
            close = difflib.get_close_matches(name, others, n=1)
            if close:
                raise self.error(
                    close[0], f"unknown key (did you mean '{name}'?); '{name}' is required"
                )
            raise self._source.error(self._key, f"missing required key '{name}'")
        return self.raw(name)

    def reject_unknown(self, known: tuple[str, ...]) -> None:
        """Reject a key outside ``known`` now, before any read can fail on a missing one.

        Called first in a section, it names a misspelt key (``hanlder:``)
        instead of the required or paired key it was meant to be.
        """
        for name in self._data:
            if name not in known:
                self._unknown(str(name), known)

    def _unknown(self, name: str, known: tuple[str, ...]) -> None:
        hint = difflib.get_close_matches(name, known, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise self.error(name, f"unknown key{suggestion}; known keys: {', '.join(known)}")

    def string(
        self, name: str, default: str | None = None, *, required: bool = False
    ) -> str | None:
        """Return ``name`` as a string with ``${VAR}`` expanded."""
        value = self.require(name) if required else self.raw(name, default)
        if value is None or value is default:
            return value
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {describe_value(value)}")
        return expand_env(value, self._source, self.path(name))

    def boolean(self, name: str, default: bool) -> bool:
        """Return ``name`` as true or false."""
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {describe_value(value)}")
        return value

    def integer(
        self,
        name: str,
        default: int,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        unit: str = "",
    ) -> int:
        """Return ``name`` as a whole number within bounds (a digit string is accepted)."""
        value = self.raw(name, default)
        # isdigit() alone is true for '²', which int() cannot read.
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected a whole number{unit}, got {describe_value(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.error(name, f"expected a number {bound}, got {value}")
        return value

    def seconds(self, name: str) -> float | None:
        """Return ``name`` as seconds; 0 or unset is None (off)."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.error(name, f"expected a number of seconds, got {describe_value(value)}")
        return float(value) if value > 0 else None

    def duration(self, name: str, default: float | None = None) -> float | None:
        """Return ``name`` as seconds from ``250ms``, ``2s``, ``1m`` or a number."""
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def duration_range(self, name: str) -> DurationRange | None:
        """Return ``name`` as a fixed duration or a ``[low, high]`` range; unset is None."""
        value = self.raw(name)
        if value is None:
            return None
        try:
            return parse_duration_range(value)
        except ValueError as exc:
            raise self.error(name, str(exc)) from None

    def string_list(self, name: str, *, token: bool = False) -> tuple[str, ...] | None:
        """Return ``name`` as strings; one string is a list of one, ``token`` checks the syntax."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise self.error(name, f"expected a list of strings, got {describe_value(value)}")
        items: list[str] = []
        for index, item in enumerate(value):
            item_key = f"{self.path(name)}[{index}]"
            if not isinstance(item, str):
                raise self._source.error(item_key, f"expected a string, got {describe_value(item)}")
            item = expand_env(item, self._source, item_key)
            if token and not _TOKEN_CHARS.match(item):
                raise self._source.error(item_key, f"{item!r} is not a valid protocol token")
            items.append(item)
        return tuple(items)

    def finish(self, known: tuple[str, ...]) -> None:
        """Reject any key not read, suggesting the closest known one."""
        for name in self._data:
            if name not in self._used:
                self._unknown(str(name), known)


def expand_env(value: str, source: SourceMap, key: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in ``value`` from the environment.

    Raises:
        ConfigError: A referenced variable is unset and has no default.
    """
    if "${" not in value:
        return value

    def substitute(found: re.Match[str]) -> str:
        name, default = found.group(1), found.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise source.error(
            key, f"environment variable {name} is not set (write ${{{name}:-default}} to give one)"
        )

    return _ENV_REFERENCE.sub(substitute, value)
