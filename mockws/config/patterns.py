"""The URL pattern grammar: pure compilation and matching, no I/O and no aiohttp.

A pattern is an absolute path whose segments are literal text or a
``{name}`` placeholder that captures exactly one non-empty segment::

    /ws/chat
    /ws/rooms/{room}
    /games/{game_id}/players/{player}
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = [
    "CompiledPattern",
    "DuplicatePattern",
    "PatternError",
    "compile_distinct",
    "compile_pattern",
    "join_prefix",
    "normalize_prefix",
    "split_raw_path",
]

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
    # One entry per segment: (literal text, None) or (None, placeholder name).
    parts: tuple[tuple[str | None, str | None], ...] = ()

    def match(self, path: str) -> dict[str, str] | None:
        """Return the captured parameters if ``path`` matches, else None."""
        found = self.regex.fullmatch(path)
        return None if found is None else found.groupdict()

    def match_segments(self, segments: list[str]) -> dict[str, str] | None:
        """Match a path already split into decoded segments (see :func:`split_raw_path`).

        A placeholder takes one whole segment, which may hold an encoded
        ``/`` (``a%2Fb`` is one segment), but never ``.`` or ``..``.
        """
        parts = self.parts
        if len(segments) != len(parts):
            return None
        params: dict[str, str] = {}
        for (literal, name), segment in zip(parts, segments, strict=True):
            if name is None:
                if segment != literal:
                    return None
            elif not segment or segment in (".", ".."):
                return None
            else:
                params[name] = segment
        return params


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
        return CompiledPattern(pattern, (), "/", re.compile("/"), (("", None),))
    names: list[str] = []
    regex_parts: list[str] = []
    shape_parts: list[str] = []
    parts: list[tuple[str | None, str | None]] = []
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
            parts.append((segment, None))
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
        parts.append((None, name))
    return CompiledPattern(
        pattern=pattern,
        param_names=tuple(names),
        shape="/" + "/".join(shape_parts),
        regex=re.compile("/" + "/".join(regex_parts)),
        parts=tuple(parts),
    )


def split_raw_path(raw_path: str) -> list[str] | None:
    """Split a request's raw (still percent-encoded) path into decoded segments.

    Each segment is decoded on its own, so ``/rooms/a%2Fb`` is two segments,
    ``rooms`` and ``a/b``. Returns None when a segment decodes to a NUL.
    """
    segments = [unquote(segment) for segment in raw_path.split("/")[1:]]
    if any("\x00" in segment for segment in segments):
        return None
    return segments


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


class DuplicatePattern(PatternError):
    """Two patterns have the same shape, so the second could never match.

    Attributes:
        index: The position of the later pattern in the list checked.
    """

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


def compile_distinct(patterns: Iterable[str]) -> list[CompiledPattern]:
    """Compile ``patterns`` in order, refusing two that match the same paths.

    One pass: two patterns collide when their shapes are equal.

    Raises:
        PatternError: A pattern is malformed.
        DuplicatePattern: A pattern has the shape of an earlier one.
    """
    compiled: list[CompiledPattern] = []
    seen: dict[str, str] = {}
    for index, pattern in enumerate(patterns):
        item = compile_pattern(pattern)
        if item.shape in seen:
            raise DuplicatePattern(f"pattern {pattern!r} duplicates {seen[item.shape]!r}", index)
        seen[item.shape] = pattern
        compiled.append(item)
    return compiled
