"""First-match-wins routing of request paths to endpoints; pure, no aiohttp."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..config.patterns import CompiledPattern, compile_distinct, normalize_prefix, split_raw_path

__all__ = ["RouteMatch", "Router", "strip_prefix"]

T = TypeVar("T")


def strip_prefix(prefix: str, path: str) -> str | None:
    """Return ``path`` as patterns see it under ``prefix`` (normalized), or None outside it."""
    if not prefix:
        return path
    if not path.startswith(prefix):
        return None
    return path[len(prefix) :] or "/"


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
        pairs = list(routes)
        compiled = compile_distinct(pattern for pattern, _ in pairs)
        self._routes: list[tuple[CompiledPattern, T]] = [
            (pattern, target) for pattern, (_, target) in zip(compiled, pairs, strict=True)
        ]

    def __len__(self) -> int:
        return len(self._routes)

    def match(self, path: str) -> RouteMatch[T] | None:
        """Return the first route whose pattern matches ``path``, or None."""
        local = strip_prefix(self.prefix, path)
        if local is None:
            return None
        for compiled, target in self._routes:
            params = compiled.match(local)
            if params is not None:
                return RouteMatch(target, params)
        return None

    def match_raw(self, raw_path: str) -> RouteMatch[T] | None:
        """Match a request's raw (percent-encoded) path, segment by segment.

        An encoded ``/`` stays inside its segment (``/rooms/a%2Fb`` is not
        ``/rooms/{room}/{sub}``), a placeholder never takes ``.`` or ``..``,
        and a path holding an encoded NUL matches nothing.
        """
        segments = split_raw_path(raw_path)
        if segments is None:
            return None
        if self.prefix:
            head = self.prefix.split("/")[1:]
            if segments[: len(head)] != head:
                return None
            segments = segments[len(head) :] or [""]
        for compiled, target in self._routes:
            params = compiled.match_segments(segments)
            if params is not None:
                return RouteMatch(target, params)
        return None
