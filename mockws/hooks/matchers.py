"""Match incoming messages against rules: compiled checks and a first-match index.

:func:`compile_matcher` turns a :class:`~mockws.config.rules.Matcher` into
one function of the message. :class:`RuleIndex` finds the first rule that
matches without trying every rule: it picks the field that most rules
compare with a constant (``type``, usually) and keeps, for each value, the
rules that could still match, in order; fifty ``match: {type: ...}`` rules
cost one dict lookup, not fifty comparisons.
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


def _constant_fields(matcher: Matcher) -> dict[str, Any]:
    """The top-level fields the matcher compares with a scalar constant."""
    pattern = matcher.fields
    if not isinstance(pattern, Fields):
        return {}
    return {
        name: item.value
        for name, item in pattern.items
        if isinstance(item, Equals) and isinstance(item.value, _SCALARS)
    }


class RuleIndex(Generic[T]):
    """The rules that may match a message, in order, found by one field's value.

    Args:
        entries: ``(matcher, rule)`` pairs in config order.

    The field chosen is the one most matchers compare with a constant. A
    rule that compares it with another value cannot match, so it is left out
    of that value's list; rules that do not look at the field are in every
    list. Candidates are then checked in full, so the index never changes
    which rule wins.
    """

    def __init__(self, entries: Sequence[tuple[Matcher, T]]) -> None:
        self.rules: tuple[T, ...] = tuple(rule for _, rule in entries)
        counts: Counter[str] = Counter()
        constants = [_constant_fields(matcher) for matcher, _ in entries]
        for fields in constants:
            counts.update(fields.keys())
        self.field: str | None = None
        self._by_value: dict[Any, tuple[T, ...]] = {}
        if not counts or counts.most_common(1)[0][1] < 2:
            self._without = self.rules
            return
        name = self.field = counts.most_common(1)[0][0]
        values = {fields[name] for fields in constants if name in fields}
        for value in values:
            self._by_value[value] = tuple(
                rule
                for fields, (_, rule) in zip(constants, entries, strict=True)
                if fields.get(name, value) == value
            )
        # A message without the field (or with another value) can only match these.
        self._without = tuple(
            rule for fields, (_, rule) in zip(constants, entries, strict=True) if name not in fields
        )

    def candidates(self, data: Any) -> tuple[T, ...]:
        """Return the rules that may match ``data``, in config order."""
        if self.field is None:
            return self.rules
        if type(data) is not dict:
            return self._without
        value = data.get(self.field, _MISSING)
        if value is _MISSING:
            return self._without
        try:
            return self._by_value.get(value, self._without)
        except TypeError:  # an unhashable value equals no scalar constant
            return self._without
