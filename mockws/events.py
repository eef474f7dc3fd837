"""The server's event feed, under its public name: see :mod:`mockws.observe.events`.

``hub.events`` is an :class:`EventBus`; subscribe to it for every connection
opened or closed, room joined or left, handler error, reload and, when
asked, message in or out.
"""

from .observe.events import (
    PREVIEW_BYTES,
    PREVIEW_CHARS,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventBus,
    HandlerFailed,
    MessageIn,
    MessageOut,
    MessageUnmatched,
    Reloaded,
    RoomJoined,
    RoomLeft,
    Subscriber,
    event_to_dict,
    handler_failed,
    message_in,
    message_out,
    message_unmatched,
    preview,
)

__all__ = [
    "PREVIEW_BYTES",
    "PREVIEW_CHARS",
    "ConnectionClosed",
    "ConnectionOpened",
    "Event",
    "EventBus",
    "HandlerFailed",
    "MessageIn",
    "MessageOut",
    "MessageUnmatched",
    "Reloaded",
    "RoomJoined",
    "RoomLeft",
    "Subscriber",
    "event_to_dict",
    "handler_failed",
    "message_in",
    "message_out",
    "message_unmatched",
    "preview",
]
