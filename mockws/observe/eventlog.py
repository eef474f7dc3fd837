"""Log lines for connection events and, when asked, for every message.

One line per connection opened or closed and per room joined or left goes
to the ``mockws.connection`` logger; with ``log_messages`` one line per
message goes to ``mockws.message``::

    c1 connected to /ws/chat?token=*** (/ws/chat) from 127.0.0.1
    ← c1 /ws/chat 31 B {"type":"join","room":"lobby"}
    → c1 /ws/chat 30 B {"type":"joined","room":"lobby"}
    → 3 conns in lobby 42 B {"type":"chat","text":"hi"}
    c1 closed 1000 "bye" (4 in, 7 out)

Injected faults have their line too: a dropped message with the messages
(``✗ c1 /ws/chat 30 B {...} dropped by faults.drop``), the others with the
connection events (``c1 fault: abort: TCP reset, no close frame (...)``).

Handler errors and reloads are logged where they happen, with their
traceback, so they are not repeated here.
"""

from __future__ import annotations

import logging

from .events import (
    MESSAGE_EVENTS,
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventBus,
    FaultInjected,
    MessageDropped,
    MessageIn,
    MessageOut,
    RoomJoined,
    RoomLeft,
    event_to_dict,
)
from .logging import EVENT_ATTRIBUTE

__all__ = ["LOG_PREVIEW_CHARS", "EventLogger", "describe", "format_size"]

LOG_PREVIEW_CHARS = 80

connection_log = logging.getLogger("mockws.connection")
message_log = logging.getLogger("mockws.message")


def format_size(size: int) -> str:
    """Return a byte count as ``512 B``, ``1.5 KB`` or ``2.0 MB``."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _short(event: MessageIn | MessageOut | MessageDropped) -> str:
    text = event.preview.replace("\r", "\\r").replace("\n", "\\n")
    if event.binary:
        text = f"binary {text}"
    if len(text) > LOG_PREVIEW_CHARS or event.truncated:
        text = text[:LOG_PREVIEW_CHARS] + "…"
    return text


def _audience(event: MessageOut) -> str:
    if event.conn_id is not None:
        return f"{event.conn_id} {event.endpoint}"
    reached = f"{event.recipients} conn{'s' if event.recipients != 1 else ''}"
    if event.user is not None:
        return f"{reached} of user {event.user}"
    if event.rooms is not None:
        where = f"{reached} in {','.join(event.rooms)}"
        return f"{where} of {event.endpoint}" if event.endpoint else where
    return f"{reached} of {event.endpoint}" if event.endpoint else f"{reached} (all)"


def describe(event: Event) -> str | None:
    """Return the log line for ``event``, or None for events logged elsewhere."""
    if isinstance(event, MessageIn):
        return f"← {event.conn_id} {event.endpoint} {format_size(event.size)} {_short(event)}"
    if isinstance(event, MessageOut):
        return f"→ {_audience(event)} {format_size(event.size)} {_short(event)}"
    if isinstance(event, MessageDropped):
        line = f"✗ {event.conn_id} {event.endpoint} {format_size(event.size)} {_short(event)}"
        return f"{line} dropped by faults.drop"
    if isinstance(event, FaultInjected):
        return f"{event.conn_id or event.endpoint} fault: {event.fault}: {event.detail}"
    if isinstance(event, ConnectionOpened):
        line = f"{event.conn_id} connected to {event.path} ({event.endpoint})"
        return f"{line} from {event.remote}" if event.remote else line
    if isinstance(event, ConnectionClosed):
        reason = f' "{event.reason}"' if event.reason else ""
        return (
            f"{event.conn_id} closed {event.code}{reason} "
            f"({event.messages_in} in, {event.messages_out} out)"
        )
    if isinstance(event, RoomJoined):
        return f"{event.conn_id} joined {event.room}"
    if isinstance(event, RoomLeft):
        return f"{event.conn_id} left {event.room}"
    return None


class EventLogger:
    """An event subscriber that writes one log line per event.

    Args:
        log_messages: Log every message in and out, not only connection events.
    """

    def __init__(self, *, log_messages: bool = False) -> None:
        self.log_messages = log_messages

    def attach(self, bus: EventBus) -> None:
        """Subscribe to ``bus``, for messages too when ``log_messages`` is set."""
        bus.subscribe(self, messages=self.log_messages)

    def __call__(self, event: Event) -> None:
        """Log ``event`` if it is a connection or message event."""
        is_message = isinstance(event, MESSAGE_EVENTS)
        logger = message_log if is_message else connection_log
        if not logger.isEnabledFor(logging.INFO):
            return
        line = describe(event)
        if line is not None:
            logger.info("%s", line, extra={EVENT_ATTRIBUTE: event_to_dict(event)})
