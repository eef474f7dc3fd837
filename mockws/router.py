"""Pure URL pattern compilation and matching; no I/O and no aiohttp.

A pattern is an absolute path whose segments are literal text or a
``{name}`` placeholder that captures exactly one non-empty segment::

    /ws/chat
    /ws/rooms/{room}
    /games/{game_id}/players/{player}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "PatternError",
    "CompiledPattern",
    "RouteMatch",
    "Router",
    "compile_pattern",
    "join_prefix",
]

T = TypeVar("T")

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class PatternError(ValueError):
    """A URL pattern or prefix is malformed; the message quotes it."""


@dataclass(frozen=True)
class CompiledPattern:
    """A validated pattern with its matcher.

    Attributes:
        pattern: The pattern as written.
        param_names: The placeholder names, left to right.
        shape: The pattern with every placeholder replaced by ``{}``; two
            patterns with the same shape match the same paths.
    """

    pattern: str
    param_names: tuple[str, ...]
    shape: str
    regex: re.Pattern[str]

    def match(self, path: str) -> dict[str, str] | None:
        """Return the captured parameters if ``path`` matches, else None."""
        found = self.regex.fullmatch(path)
        return None if found is None else found.groupdict()


def compile_pattern(pattern: str) -> CompiledPattern:
    """Validate ``pattern`` and build its matcher.

    Raises:
        PatternError: The pattern does not start with ``/``, has an empty
            segment, a placeholder that is not a whole segment, a name that
            is not an identifier, or a name used twice.
    """
    if not pattern.startswith("/"):
        raise PatternError(f"pattern {pattern!r} must start with '/'")
    if pattern == "/":
        return CompiledPattern(pattern, (), "/", re.compile("/"))
    names: list[str] = []
    regex_parts: list[str] = []
    shape_parts: list[str] = []
    for segment in pattern[1:].split("/"):
        if not segment:
            raise PatternError(f"pattern {pattern!r} has an empty segment ('//' or a trailing '/')")
        placeholder = _PLACEHOLDER.fullmatch(segment)
        if placeholder is None:
            if "{" in segment or "}" in segment:
                raise PatternError(
                    f"pattern {pattern!r}: a placeholder must be a whole segment, "
                    f"like '/{{name}}', not {segment!r}"
                )
            regex_parts.append(re.escape(segment))
            shape_parts.append(segment)
            continue
        name = placeholder.group(1)
        if not _IDENTIFIER.match(name):
            raise PatternError(
                f"pattern {pattern!r}: placeholder {{{name}}} must be a Python identifier"
            )
        if name in names:
            raise PatternError(f"pattern {pattern!r}: placeholder {{{name}}} is used twice")
        names.append(name)
        regex_parts.append(f"(?P<{name}>[^/]+)")
        shape_parts.append("{}")
    return CompiledPattern(
        pattern=pattern,
        param_names=tuple(names),
        shape="/" + "/".join(shape_parts),
        regex=re.compile("/" + "/".join(regex_parts)),
    )


def normalize_prefix(prefix: str) -> str:
    """Return ``prefix`` without a trailing slash, validating its form.

    Raises:
        PatternError: The prefix is not empty and does not start with ``/``,
            or it contains a placeholder.
    """
    if prefix in ("", "/"):
        return ""
    if not prefix.startswith("/"):
        raise PatternError(f"prefix {prefix!r} must be empty or start with '/'")
    if "{" in prefix or "}" in prefix:
        raise PatternError(f"prefix {prefix!r} cannot contain placeholders")
    return prefix.rstrip("/")


def join_prefix(prefix: str, pattern: str) -> str:
    """Return the full path pattern that ``pattern`` serves under ``prefix``."""
    return normalize_prefix(prefix) + pattern


@dataclass(frozen=True)
class RouteMatch(Generic[T]):
    """The target of a matched path and the parameters it captured."""

    target: T
    params: Mapping[str, str]


class Router(Generic[T]):
    """First-match-wins routing of request paths to targets.

    Args:
        prefix: Prepended to every pattern (``""`` for none).
        routes: ``(pattern, target)`` pairs in priority order.

    Raises:
        PatternError: A pattern is malformed or two patterns have the same
            shape (they would match the same paths).
    """

    def __init__(self, prefix: str, routes: Iterable[tuple[str, T]]) -> None:
        self.prefix = normalize_prefix(prefix)
        self._routes: list[tuple[CompiledPattern, T]] = []
        seen: dict[str, str] = {}
        for pattern, target in routes:
            compiled = compile_pattern(pattern)
            if compiled.shape in seen:
                raise PatternError(f"pattern {pattern!r} duplicates {seen[compiled.shape]!r}")
            seen[compiled.shape] = pattern
            self._routes.append((compiled, target))

    def __len__(self) -> int:
        return len(self._routes)

    def match(self, path: str) -> RouteMatch[T] | None:
        """Return the first route whose pattern matches ``path``, or None."""
        if self.prefix:
            if not path.startswith(self.prefix):
                return None
            path = path[len(self.prefix) :]
            if not path:
                path = "/"
        for compiled, target in self._routes:
            params = compiled.match(path)
            if params is not None:
                return RouteMatch(target, params)
        return None
