"""Match incoming messages against rules: compiled checks and a first-match index.

:func:`compile_matcher` turns a :class:`~mockws.config.rules.Matcher` into
one function of the message. :class:`RuleIndex` finds the first rule that
matches without trying every rule: it picks the field most rules look at
(``type``, usually) and works out once, for each value of it, which rules
could still match, in order; fifty ``match: {type: ...}`` rules (constants,
regexes or ``one_of``) then cost one dict lookup, not fifty comparisons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ..config.rules import Equals, Fields, Matcher, OneOf, Pattern, Positions, Regex

__all__ = ["Check", "RuleIndex", "compile_matcher", "compile_pattern"]

Check = Callable[[Any], bool]
"""A compiled test of one message (or one value inside it)."""

_MISSING = object()
_SCALARS = (str, int, float, bool, type(None))
T = TypeVar("T")


def _same(expected: Any) -> Check:
    kind = type(expected)
    if kind is float or kind is int:
        # 1 and 1.0 are the same JSON number; true is not 1.
        return lambda value: value == expected and type(value) in (int, float)
    return lambda value: value == expected and type(value) is kind


def compile_pattern(pattern: Pattern) -> Check:
    """Return the test of one JSON subset pattern."""
    if isinstance(pattern, Equals):
        return _same(pattern.value)
    if isinstance(pattern, Regex):
        search = pattern.pattern.search
        return lambda value: type(value) is str and search(value) is not None
    if isinstance(pattern, OneOf):
        options = tuple(compile_pattern(option) for option in pattern.options)
        return lambda value: any(option(value) for option in options)
    if isinstance(pattern, Positions):
        items = tuple(compile_pattern(item) for item in pattern.items)
        count = len(items)
        return lambda value: (
            type(value) is list
            and len(value) >= count
            and all(check(item) for check, item in zip(items, value, strict=False))
        )
    assert isinstance(pattern, Fields)
    return _fields(pattern)


def _fields(pattern: Fields) -> Check:
    constants = tuple(
        (name, item.value)
        for name, item in pattern.items
        if isinstance(item, Equals) and type(item.value) is str
    )
    others = tuple(
        (name, compile_pattern(item))
        for name, item in pattern.items
        if not (isinstance(item, Equals) and type(item.value) is str)
    )
    if not others:
        # The common case ({type: ping}): plain comparisons, no nested calls.
        def strings(value: Any) -> bool:
            if type(value) is not dict:
                return False
            for name, expected in constants:
                found = value.get(name, _MISSING)
                if found != expected or type(found) is not str:
                    return False
            return True

        return strings

    def fields(value: Any) -> bool:
        if type(value) is not dict:
            return False
        for name, expected in constants:
            found = value.get(name, _MISSING)
            if found != expected or type(found) is not str:
                return False
        for name, check in others:
            found = value.get(name, _MISSING)
            if found is _MISSING or not check(found):
                return False
        return True

    return fields


def compile_matcher(matcher: Matcher) -> Check:
    """Return the test of a whole ``match``: every part given must hold."""
    checks: list[Check] = []
    if matcher.binary is not None:
        wanted = matcher.binary
        checks.append(lambda data: isinstance(data, (bytes, bytearray)) == wanted)
    if matcher.text is not None:
        search = matcher.text.search
        checks.append(lambda data: type(data) is str and search(data) is not None)
    if matcher.fields is not None:
        checks.append(compile_pattern(matcher.fields))
    if matcher.jsonpath is not None:
        find = matcher.jsonpath.compiled.find

        def found(data: Any) -> bool:
            if isinstance(data, (str, bytes, bytearray)):
                return False
            return bool(find(data))

        checks.append(found)
    if not checks:
        return lambda data: True
    if len(checks) == 1:
        return checks[0]
    parts = tuple(checks)
    return lambda data: all(check(data) for check in parts)


def _field_patterns(matcher: Matcher) -> dict[str, Pattern]:
    """The top-level fields of the matcher's JSON subset, with their patterns."""
    pattern = matcher.fields
    if not isinstance(pattern, Fields):
        return {}
    return dict(pattern.items)


class RuleIndex(Generic[T]):
    """The rules that may match a message, in order, found by one field's value.

    Args:
        entries: ``(matcher, rule)`` pairs in config order.
        cache_size: How many distinct values of the field to remember.

    The field chosen is the one most matchers look at (``type``, usually).
    For a value of it, the candidates are the rules whose pattern for that
    field accepts the value (a constant, a regex, ``one_of``), and the rules
    that do not look at the field; each value's list is worked out once and
    remembered (a bounded cache: values a client makes up cannot grow it
    without end). Candidates are then checked in full, so the index never
    changes which rule wins.
    """

    def __init__(self, entries: Sequence[tuple[Matcher, T]], cache_size: int = 1024) -> None:
        self.rules: tuple[T, ...] = tuple(rule for _, rule in entries)
        self.field: str | None = None
        self._cache: dict[tuple[type, Any], tuple[T, ...]] = {}
        self._cache_size = cache_size
        fields = [_field_patterns(matcher) for matcher, _ in entries]
        counts: Counter[str] = Counter()
        for one in fields:
            counts.update(one.keys())
        if not counts or counts.most_common(1)[0][1] < 2:
            self._without = self.rules
            self._checks: tuple[tuple[T, Check | None], ...] = ()
            return
        name = self.field = counts.most_common(1)[0][0]
        self._checks = tuple(
            (rule, compile_pattern(one[name]) if name in one else None)
            for one, (_, rule) in zip(fields, entries, strict=True)
        )
        # A message without the field can only match these.
        self._without = tuple(rule for rule, check in self._checks if check is None)

    def _accepting(self, value: Any) -> tuple[T, ...]:
        return tuple(rule for rule, check in self._checks if check is None or check(value))

    def candidates(self, data: Any) -> tuple[T, ...]:
        """Return the rules that may match ``data``, in config order."""
        if self.field is None:
            return self.rules
        if type(data) is not dict:
            return self._without
        value = data.get(self.field, _MISSING)
        if value is _MISSING:
            return self._without
        kind = type(value)
        if kind not in _SCALARS:
            return self._accepting(value)
        # Keyed by type too: 1, 1.0 and true are equal keys but match differently.
        key = (kind, value)
        found = self._cache.get(key)
        if found is None:
            found = self._accepting(value)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[key] = found
        return found
