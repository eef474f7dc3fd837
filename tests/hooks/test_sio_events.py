"""Which hook takes a Socket.IO event (mockws/hooks/sio_events.py)."""

from __future__ import annotations

from types import ModuleType

from mockws.hooks.loader import HandlerSlot
from mockws.hooks.sio_events import declared_events, event_hook
from mockws.hooks.timer import HookTimer


def slot_of(source: str) -> HandlerSlot:
    module = ModuleType("sio_handler")
    exec(source, module.__dict__)  # noqa: S102 - the test's own handler text
    return HandlerSlot("sio_handler.py", module, HookTimer(None))


SOURCE = """
def on_connect(conn, auth): pass
def on_close(conn, reason): pass
def on_join(conn, room): pass
def on_event(conn, event, *args): pass
def spaced(conn): pass
EVENTS = {"chat message": spaced, "join": spaced}
"""


def test_events_table_then_on_name_then_on_event() -> None:
    """EVENTS wins over on_<name>; lifecycle names and non-identifiers go to on_event."""
    slot = slot_of(SOURCE)
    module = slot.module
    assert event_hook(slot, "chat message") == ("EVENTS['chat message']", module.spaced, ())
    assert event_hook(slot, "join")[1] is module.spaced
    assert event_hook(slot, "close") == ("on_event", module.on_event, ("close",))
    assert event_hook(slot, "connect")[1] is module.on_event
    assert event_hook(slot, "new-thing") == ("on_event", module.on_event, ("new-thing",))
    assert event_hook(slot_of(""), "x") == ("on_event", None, ("x",))


def test_declared_events_lists_functions_and_the_table() -> None:
    """mockws check lists on_<event> functions and EVENTS keys, not lifecycle hooks."""
    assert declared_events(slot_of(SOURCE)) == ["join", "chat message"]
