"""Which hook of a handler module takes a Socket.IO event.

An event goes to ``EVENTS[name]``, else ``on_<name>`` when the name is an
identifier that is not a lifecycle hook's, else ``on_event(conn, name, *args)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .loader import HandlerSlot

__all__ = ["LIFECYCLE", "declared_events", "event_hook"]

LIFECYCLE = frozenset({"connect", "close", "error", "event", "disconnect"})
"""Names whose ``on_<name>`` is a lifecycle hook, never an event's."""

_NOT_EVENTS = frozenset({"on_connect", "on_close", "on_error", "on_event"})


def event_hook(
    slot: HandlerSlot, event: str
) -> tuple[str, Callable[..., Any] | None, tuple[Any, ...]]:
    """Return (the hook's name for logs, the hook or None, arguments before the event's)."""
    table = getattr(slot.module, "EVENTS", None)
    if isinstance(table, Mapping):
        hook = table.get(event)
        if callable(hook):
            return f"EVENTS[{event!r}]", hook, ()
    if event.isidentifier() and event not in LIFECYCLE and not event.startswith("_"):
        hook = slot.hook(f"on_{event}")
        if hook is not None:
            return f"on_{event}", hook, ()
    return "on_event", slot.hook("on_event"), (event,)


def declared_events(slot: HandlerSlot) -> list[str]:
    """The events a handler module names: its ``on_<event>`` functions and ``EVENTS`` keys."""
    names = [
        name[3:]
        for name in vars(slot.module)
        if name.startswith("on_") and name not in _NOT_EVENTS and slot.hook(name) is not None
    ]
    table = getattr(slot.module, "EVENTS", None)
    if isinstance(table, Mapping):
        names += [str(name) for name in table]
    return list(dict.fromkeys(names))
