"""The Jinja2 sandbox that config templates compile and render in.

Jinja2's ``SandboxedEnvironment`` refuses attributes that start with ``_``
and Python's internals; this module adds what a server that renders
templates for every message needs on top:

- a render deadline (:func:`start_render`), checked on every loop
  iteration, call, attribute and item access, and binary operator, so a
  template that loops for ever stops with an error instead of the server;
- bounds on what one operation may build: ``*`` on strings and lists,
  ``**`` exponents, ``%`` and ``format`` widths, ``center``/``indent`` widths,
  padding methods such as ``str.ljust`` (:data:`MAX_SIZE`);
- no ``lipsum`` (it makes as much text as asked for), no loader (so no
  ``include``, ``import`` or ``extends``), ``StrictUndefined``.

It imports Jinja2 at the top: :mod:`mockws.config.templates` imports this
module only when a config has a template.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

from jinja2 import StrictUndefined, Undefined, filters, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

__all__ = [
    "MAX_SIZE",
    "RENDER_TIME_LIMIT",
    "Refused",
    "Undefined",
    "environment",
    "guard_loops",
    "lookup",
    "private_name",
    "start_render",
]

RENDER_TIME_LIMIT = 0.1
"""Seconds one render may take before it stops with an error."""

MAX_SIZE = 1_000_000
"""The longest string or list one template operation may build."""

_MAX_EXPONENT = 1000
_LOOP_CHECK_EVERY = 32
_LOOP_FILTER = "mockws_loop_guard"
_WIDE_FORMAT = re.compile(r"\d{7,}")
_MAX_INDENT_TEXT = 1000
# Renders are synchronous; a thread-local keeps servers on other threads apart.
_render = threading.local()


class Refused(Exception):
    """The sandbox refused an operation: too big, too long, or past the deadline."""


def start_render(time_limit: float) -> None:
    """Start the clock of one render: it may run ``time_limit`` seconds."""
    _render.deadline = time.monotonic() + time_limit
    _render.limit = time_limit


def _check_deadline() -> None:
    if time.monotonic() > getattr(_render, "deadline", float("inf")):
        raise Refused(f"the template ran longer than its time limit ({_render.limit:g}s)")


def _guarded_loop(items: Any) -> Iterator[Any]:
    for count, item in enumerate(items):
        if count % _LOOP_CHECK_EVERY == 0:
            _check_deadline()
        yield item


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_SIZE:
        raise Refused(f"the result is longer than {MAX_SIZE} items")
    return value


def _check_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise Refused("a format width or precision of that size is not allowed")


def _check_width(width: Any) -> None:
    if isinstance(width, int) and not isinstance(width, bool) and width > MAX_SIZE:
        raise Refused(f"a width over {MAX_SIZE} is not allowed")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def call(
        __self,  # noqa: N805 - Jinja's own signature, so that any keyword passes through
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        _check_deadline()
        # The sandbox hands out str.format wrapped; the wrapper names the method.
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, (str, bytes, list)):
            # str.ljust(10**9), "{:>999999999}".format(x) and the like.
            for argument in (*args, *kwargs.values()):
                _check_width(argument)
            if isinstance(owner, str):
                _check_format(owner)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return lookup(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_deadline()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_deadline()
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
            raise Refused(f"an exponent over {_MAX_EXPONENT} is not allowed")
        if operator == "*":
            for one, other in ((left, right), (right, left)):
                if isinstance(one, (str, bytes, list, tuple)) and isinstance(other, int):
                    if len(one) * other > MAX_SIZE:
                        raise Refused(f"the result would be longer than {MAX_SIZE} items")
        if operator == "%":
            _check_format(left)
        return _check_size(super().call_binop(context, operator, left, right))


def _center(value: str, width: int = 80) -> str:
    _check_width(width)
    return filters.do_center(value, width)


def _indent(value: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _check_width(width)
    if isinstance(width, str) and len(width) > _MAX_INDENT_TEXT:
        raise Refused("an indent string that long is not allowed")
    return filters.do_indent(value, width, first, blank)


def _format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(value)
    result: str = _check_size(filters.do_format(value, *args, **kwargs))
    return result


def _build() -> SandboxedEnvironment:
    built = _Sandbox(undefined=StrictUndefined, autoescape=False, cache_size=0)
    built.globals.pop("lipsum", None)
    built.filters[_LOOP_FILTER] = _guarded_loop
    built.filters.update(center=_center, indent=_indent, format=_format)
    return built


_ENVIRONMENT = _build()


def environment() -> SandboxedEnvironment:
    """The one sandboxed environment every config template compiles in."""
    return _ENVIRONMENT


def guard_loops(tree: nodes.Template) -> nodes.Template:
    """Make every ``{% for %}`` in ``tree`` check the render deadline as it iterates."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)
    return tree


def private_name(tree: nodes.Template) -> tuple[str, int] | None:
    """Return the first name, attribute or key written with a leading ``_``, and its line."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        elif isinstance(node, nodes.Name):
            name = node.name
        if isinstance(name, str) and name.startswith("_"):
            return name, node.lineno
    return None


def lookup(obj: Any, attribute: str) -> Any:
    """Return ``obj.attribute`` as a template sees it.

    A mapping's key comes before its methods (``data.items`` is the message's
    ``items``, not ``dict.items``), since templates mostly read JSON; other
    objects give their attribute, else their item, as Jinja does. Unsafe
    attributes and missing ones give an :class:`~jinja2.Undefined`. The
    deadline is not checked here: one lookup is not a loop.
    """
    if type(obj) is dict:
        try:
            return obj[attribute]
        except KeyError:
            pass
    return SandboxedEnvironment.getattr(_ENVIRONMENT, obj, attribute)
