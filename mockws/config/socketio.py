"""The Socket.IO keys of an endpoint: ``protocol``, ``namespaces``, and the event steps.

A Socket.IO endpoint's pattern is the server's ``path`` (Socket.IO's
default is ``/socket.io/``); it may end in ``/``, which the router ignores.
Its rules match events as ``{event: name, args: [...]}`` and may ``emit``
events, or ``broadcast`` with an ``event`` (docs/socketio.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .keys import KeyReader, describe_value
from .model import PROTOCOLS, SOCKETIO
from .rules import Behaviour, Broadcast, Emit, Expect, Step
from .templates import Template
from .yaml_source import SourceMap

__all__ = ["check_event_steps", "event_name", "parse_emit", "parse_protocol"]

_EMIT_KEYS = ("event", "data", "args")


def event_name(value: Any, key: str, source: SourceMap) -> str | None:
    """Read a Socket.IO event name (None when absent).

    Raises:
        ConfigError: The name is not a non-empty string.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise source.error(key, f"expected a Socket.IO event name, got {describe_value(value)}")
    return value


def parse_emit(
    value: Any, key: str, source: SourceMap, template: Callable[[Any, str], Template]
) -> Emit:
    """Read an ``emit`` step: ``emit: pong`` or ``emit: {event, data}`` (or ``args: [...]``).

    Raises:
        ConfigError: No event name, or both ``data`` and ``args``.
    """
    if isinstance(value, str):
        name = event_name(value, key, source)
        assert name is not None
        return Emit(name, key=key)
    if not isinstance(value, Mapping):
        raise source.error(
            key, f"expected an event name or {{event, data}}, got {describe_value(value)}"
        )
    reader = KeyReader(value, key, source)
    name = event_name(reader.require("event"), reader.path("event"), source)
    assert name is not None
    if reader.has("data") and reader.has("args"):
        raise reader.error("args", "give 'data' (one argument) or 'args' (a list), not both")
    args = None
    if reader.has("data"):
        args = template([reader.raw("data")], reader.path("data"))
    elif reader.has("args"):
        raw = reader.raw("args")
        if not isinstance(raw, (list, tuple)):
            raise reader.error("args", f"expected a list of arguments, got {describe_value(raw)}")
        args = template(list(raw), reader.path("args"))
    reader.finish(_EMIT_KEYS)
    return Emit(name, args, key=key)


def _walk(steps: Sequence[Step]) -> Iterator[Step]:
    for step in steps:
        yield step
        if isinstance(step, Expect):
            yield from _walk(step.otherwise)


def check_event_steps(behaviour: Behaviour | None, protocol: str, source: SourceMap) -> None:
    """Refuse ``emit`` and ``broadcast`` with ``event`` on an endpoint that is not Socket.IO.

    Raises:
        ConfigError: Such a step, named by its key.
    """
    if behaviour is None or protocol == SOCKETIO:
        return
    lists: list[Sequence[Step]] = [behaviour.on_connect, behaviour.script]
    lists += [rule.steps for rule in behaviour.rules]
    lists += [push.steps for push in behaviour.every]
    for steps in lists:
        for step in _walk(steps):
            if isinstance(step, Emit):
                raise source.error(
                    step.key,
                    "'emit' sends a Socket.IO event: the endpoint needs protocol: socket.io",
                )
            if isinstance(step, Broadcast) and step.event is not None:
                raise source.error(
                    step.key,
                    "a broadcast with an 'event' is a Socket.IO emit: "
                    "the endpoint needs protocol: socket.io",
                )


def parse_protocol(section: KeyReader) -> tuple[str, tuple[str, ...]]:
    """Read an endpoint's ``protocol`` and ``namespaces``.

    Returns:
        The protocol and the namespaces (``("/",)`` unless given).

    Raises:
        ConfigError: The protocol is unknown, or ``namespaces`` is given for
            a WebSocket endpoint or holds a name that does not start with ``/``.
    """
    protocol = section.string("protocol", "websocket") or "websocket"
    if protocol not in PROTOCOLS:
        raise section.error("protocol", f"expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    namespaces = section.string_list("namespaces")
    if namespaces is None:
        return protocol, ("/",)
    if protocol != SOCKETIO:
        raise section.error("namespaces", "only a 'protocol: socket.io' endpoint has namespaces")
    if not namespaces:
        raise section.error("namespaces", "list at least one namespace, such as '/'")
    for index, name in enumerate(namespaces):
        if not name.startswith("/"):
            raise section.source.error(
                f"{section.path('namespaces')}[{index}]",
                f"a namespace starts with '/', like '/' or '/admin', got {name!r}",
            )
    return protocol, tuple(dict.fromkeys(namespaces))
