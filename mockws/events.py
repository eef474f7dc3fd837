"""The server's event feed, under its public name: see :mod:`mockws.observe.events`.

``hub.events`` is an :class:`EventBus`; subscribe to it for every connection
opened or closed, room joined or left, handler error, reload, injected
fault and, when asked, message in, out or dropped.
"""

from .observe.events import (
    MESSAGE_EVENTS,
    PREVIEW_BYTES,
    PREVIEW_CHARS,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventBus,
    FaultInjected,
    HandlerFailed,
    MessageDropped,
    MessageIn,
    MessageOut,
    MessageUnmatched,
    Reloaded,
    RoomJoined,
    RoomLeft,
    SpecViolation,
    Subscriber,
    event_to_dict,
    handler_failed,
    message_dropped,
    message_in,
    message_out,
    message_unmatched,
    preview,
)

__all__ = [
    "MESSAGE_EVENTS",
    "PREVIEW_BYTES",
    "PREVIEW_CHARS",
    "ConnectionClosed",
    "ConnectionOpened",
    "Event",
    "EventBus",
    "FaultInjected",
    "HandlerFailed",
    "MessageDropped",
    "MessageIn",
    "MessageOut",
    "MessageUnmatched",
    "Reloaded",
    "RoomJoined",
    "RoomLeft",
    "SpecViolation",
    "Subscriber",
    "event_to_dict",
    "handler_failed",
    "message_dropped",
    "message_in",
    "message_out",
    "message_unmatched",
    "preview",
]
