"""The server's event feed: what happens to connections, as it happens.

The server publishes an :class:`Event` for each connection opened or
closed, each room joined or left, each handler error, each reload and, for
subscribers that ask for them, each message in or out. The inspector page
and the log lines subscribe to it.

Publishing is free when nobody listens: the per-message paths check one
flag (:attr:`EventBus.wants_messages`) and build nothing when it is off. A
broadcast is one ``MessageOut`` event carrying its recipient count, not one
event per recipient. Subscribers run synchronously inside the publisher, so
they must be quick: serialise the event and queue it, never wait.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..wire.frames import Opcode
from .redact import mask_json_secrets

__all__ = [
    "PREVIEW_BYTES",
    "PREVIEW_CHARS",
    "ConnectionClosed",
    "ConnectionOpened",
    "Event",
    "EventBus",
    "FaultInjected",
    "HandlerFailed",
    "MESSAGE_EVENTS",
    "MessageDropped",
    "HttpExchange",
    "MessageIn",
    "MessageOut",
    "MessageUnmatched",
    "Reloaded",
    "RoomJoined",
    "RoomLeft",
    "SpecViolation",
    "Subscriber",
    "event_in",
    "event_out",
    "event_to_dict",
    "handler_failed",
    "message_dropped",
    "http_exchange",
    "message_in",
    "message_out",
    "message_unmatched",
    "preview",
]

log = logging.getLogger("mockws.events")

PREVIEW_CHARS = 1000
PREVIEW_BYTES = 32


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Something that happened on the server.

    Attributes:
        kind: A short name of the event type, the ``type`` of its JSON form.
        time: When it happened, in seconds since the epoch.
    """

    kind: ClassVar[str] = "event"
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened(Event):
    """A client connected (after the upgrade, before ``on_connect``).

    Attributes:
        conn_id: The connection's id.
        endpoint: The pattern of its endpoint.
        path: The request path and query, secrets masked.
        remote: The client's address.
        user: The connection's ``user_id`` at that moment.
        subprotocol: The negotiated subprotocol, if any.
        upstream: For a proxied connection, its upstream URL (secrets masked).
    """

    kind: ClassVar[str] = "open"
    conn_id: str
    endpoint: str
    path: str
    remote: str | None = None
    user: str | None = None
    subprotocol: str | None = None
    upstream: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    """A connection closed (after ``on_close`` ran).

    Attributes:
        conn_id: The connection's id.
        endpoint: The pattern of its endpoint.
        code: The close code.
        reason: The close reason.
        messages_in: Messages received over its life.
        messages_out: Messages sent over its life.
    """

    kind: ClassVar[str] = "close"
    conn_id: str
    endpoint: str
    code: int | None
    reason: str = ""
    messages_in: int = 0
    messages_out: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomJoined(Event):
    """A connection joined a room it was not in."""

    kind: ClassVar[str] = "join"
    conn_id: str
    room: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomLeft(Event):
    """A connection left a room it was in (rooms of a closed connection are not reported)."""

    kind: ClassVar[str] = "leave"
    conn_id: str
    room: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageIn(Event):
    """A data message arrived from a client.

    Attributes:
        conn_id: The sender.
        endpoint: The sender's endpoint pattern.
        size: The payload size in bytes.
        binary: True for a binary message.
        preview: The start of a text message, or of a binary one in hex.
        truncated: True when ``preview`` is not the whole message.
        event: A Socket.IO event's name (``preview`` then shows its
            arguments as a JSON list); None for a WebSocket message.
        ack: True for a Socket.IO acknowledgement (of the event ``event``).
    """

    kind: ClassVar[str] = "in"
    conn_id: str
    endpoint: str
    size: int
    binary: bool = False
    preview: str = ""
    truncated: bool = False
    event: str | None = None
    ack: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageOut(Event):
    """A data message was queued for one connection or, as a broadcast, for many.

    Attributes:
        conn_id: The recipient of a ``send``; None for a broadcast.
        endpoint: The recipient's endpoint, or a broadcast's endpoint filter.
        size: The payload size in bytes.
        binary: True for a binary message.
        preview: The start of a text message, or of a binary one in hex.
        truncated: True when ``preview`` is not the whole message.
        recipients: How many connections the message was queued for.
        rooms: A broadcast's room filter, if it had one.
        user: The user id a ``send_to_user`` addressed.
        event: A Socket.IO event's name (``preview`` then shows its
            arguments as a JSON list); None for a WebSocket message.
        ack: True for a Socket.IO acknowledgement (of the event ``event``).
    """

    kind: ClassVar[str] = "out"
    conn_id: str | None
    endpoint: str | None
    size: int
    binary: bool = False
    preview: str = ""
    truncated: bool = False
    recipients: int = 1
    rooms: tuple[str, ...] | None = None
    user: str | None = None
    event: str | None = None
    ack: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDropped(Event):
    """An outgoing message was lost on purpose, by the endpoint's ``faults.drop``.

    Attributes:
        conn_id: The connection that did not get it.
        endpoint: Its endpoint pattern.
        size: The payload size in bytes.
        binary: True for a binary message.
        preview: The start of a text message, or of a binary one in hex.
        truncated: True when ``preview`` is not the whole message.
    """

    kind: ClassVar[str] = "drop"
    conn_id: str
    endpoint: str
    size: int
    binary: bool = False
    preview: str = ""
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultInjected(Event):
    """A network fault acted on a connection or a handshake (see mockws.hub.faults).

    Attributes:
        fault: ``abort``, ``stall``, ``close``, ``refuse``, or ``set`` (faults changed).
        endpoint: The endpoint pattern.
        conn_id: The connection, if the fault was on one.
        detail: What happened, in words.
    """

    kind: ClassVar[str] = "fault"
    fault: str
    endpoint: str
    conn_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpExchange(Event):
    """An HTTP request to a route (or to no route) and its answer.

    Published to message subscribers only, like messages: the access log
    already has a line per request.

    Attributes:
        method: The request method.
        path: The request path and query, secrets masked.
        status: The answer's status.
        duration: Seconds from the request to its answer, delay included.
        route: The route that answered (``METHOD /pattern``), if one did.
        remote: The client's address.
        request_size: Bytes of request body.
        request_preview: The start of the request body, secrets masked.
        response_size: Bytes of response body (0 for a file or a streamed answer).
        response_preview: The start of the response body, secrets masked.
        pushed: Connections reached by the route's broadcast and send_to_user.
    """

    kind: ClassVar[str] = "http"
    method: str
    path: str
    status: int
    duration: float
    route: str | None = None
    remote: str | None = None
    request_size: int = 0
    request_preview: str = ""
    response_size: int = 0
    response_preview: str = ""
    pushed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class HandlerFailed(Event):
    """A handler hook raised, or a client broke the protocol.

    Attributes:
        handler: The handler as the config names it.
        hook: The hook that raised (``on_message``...), or ``the protocol``.
        error: The exception type and message.
        conn_id: The connection concerned, if any.
        traceback: The formatted traceback, if any.
    """

    kind: ClassVar[str] = "error"
    handler: str
    hook: str
    error: str
    conn_id: str | None = None
    traceback: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageUnmatched(Event):
    """No rule matched a message, and the endpoint has no ``on_message`` to take it.

    Attributes:
        conn_id: The sender.
        endpoint: The sender's endpoint pattern.
        preview: The start of the message (secret values masked; hex for binary).
        truncated: True when ``preview`` is not the whole message.
    """

    kind: ClassVar[str] = "unmatched"
    conn_id: str
    endpoint: str
    preview: str = ""
    truncated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Reloaded(Event):
    """A handler module or the config was reloaded, or failed to reload.

    Attributes:
        target: What was reloaded (a handler spec or the config file).
        ok: False when the new version failed and the old one keeps serving.
        message: What changed, or why it failed.
    """

    kind: ClassVar[str] = "reload"
    target: str
    ok: bool = True
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpecViolation(Event):
    """A message broke the endpoint's AsyncAPI channel.

    Attributes:
        conn_id: The connection concerned.
        endpoint: Its endpoint's pattern.
        direction: ``incoming`` (from the client) or ``outgoing`` (to it).
        mode: ``warn`` (passed on) or ``reject`` (answered with an error).
        channel: The channel's place in the document.
        problems: Each failed keyword: ``{keyword, path, value, message}``.
    """

    kind: ClassVar[str] = "invalid"
    conn_id: str
    endpoint: str
    direction: str
    mode: str
    channel: str
    problems: tuple[dict[str, str], ...] = ()


Subscriber = Callable[[Event], None]

MESSAGE_EVENTS: tuple[type[Event], ...] = (MessageIn, MessageOut, MessageDropped, HttpExchange)
"""Events about one message each: only subscribers that ask for messages get them."""


def event_to_dict(event: Event) -> dict[str, Any]:
    """Return ``event`` as a JSON-ready dict with its kind under ``type``."""
    data: dict[str, Any] = {"type": event.kind}
    for item in fields(event):
        value = getattr(event, item.name)
        data[item.name] = list(value) if isinstance(value, tuple) else value
    return data


def preview(payload: bytes | str, binary: bool, limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """Return the readable start of a message and whether it was cut.

    Text is cut at ``limit`` characters and the values of secret-named JSON
    keys are masked; binary shows its first ``PREVIEW_BYTES`` bytes in hex.
    """
    if binary:
        head = payload[:PREVIEW_BYTES]
        assert isinstance(head, bytes)
        return head.hex(" "), len(payload) > PREVIEW_BYTES
    if isinstance(payload, bytes):
        cut = payload[: limit * 4].decode("utf-8", "replace")
        return mask_json_secrets(cut[:limit]), len(cut) > limit or len(payload) > limit * 4
    return mask_json_secrets(payload[:limit]), len(payload) > limit


def handler_failed(
    handler: str, hook: str, error: BaseException, conn_id: str | None = None
) -> HandlerFailed:
    """Describe an exception raised by a handler's ``hook``, with its traceback."""
    return HandlerFailed(
        handler=handler,
        hook=hook,
        error=f"{type(error).__name__}: {error}",
        conn_id=conn_id,
        traceback="".join(traceback.format_exception(error)),
    )


def http_exchange(
    method: str,
    path: str,
    status: int,
    duration: float,
    *,
    route: str | None = None,
    remote: str | None = None,
    request_body: bytes = b"",
    response_body: bytes = b"",
    pushed: int = 0,
) -> HttpExchange:
    """Describe one HTTP request and its answer; ``path`` must be masked already."""
    return HttpExchange(
        method=method,
        path=path,
        status=status,
        duration=duration,
        route=route,
        remote=remote,
        request_size=len(request_body),
        request_preview=_body_preview(request_body),
        response_size=len(response_body),
        response_preview=_body_preview(response_body),
        pushed=pushed,
    )


def _body_preview(body: bytes) -> str:
    if not body:
        return ""
    head = body[: PREVIEW_CHARS * 4]
    try:
        head.decode("utf-8")
        binary = False
    except UnicodeDecodeError as exc:
        # A character cut at the end of the head is still text.
        binary = exc.start < len(head) - 3 or len(head) == len(body)
    text, truncated = preview(body, binary)
    return text + " …" if truncated else text


def message_in(conn_id: str, endpoint: str, data: str | bytes) -> MessageIn:
    """Describe a message received from a client (``data`` as aiohttp delivered it)."""
    binary = isinstance(data, bytes)
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    text, truncated = preview(data, binary)
    return MessageIn(
        conn_id=conn_id,
        endpoint=endpoint,
        size=size,
        binary=binary,
        preview=text,
        truncated=truncated,
    )


def message_unmatched(conn_id: str, endpoint: str, text: str | bytes) -> MessageUnmatched:
    """Describe a message no rule matched (``text``: the message as JSON text, or its bytes)."""
    shown, truncated = preview(text, isinstance(text, bytes))
    return MessageUnmatched(conn_id=conn_id, endpoint=endpoint, preview=shown, truncated=truncated)


def message_dropped(conn_id: str, endpoint: str, opcode: int, payload: bytes) -> MessageDropped:
    """Describe an encoded message that ``faults.drop`` kept from ``conn_id``."""
    binary = opcode == Opcode.BINARY
    text, truncated = preview(payload, binary)
    return MessageDropped(
        conn_id=conn_id,
        endpoint=endpoint,
        size=len(payload),
        binary=binary,
        preview=text,
        truncated=truncated,
    )


def message_out(
    conn_id: str | None,
    endpoint: str | None,
    opcode: int,
    payload: bytes,
    *,
    recipients: int = 1,
    rooms: tuple[str, ...] | None = None,
    user: str | None = None,
) -> MessageOut:
    """Describe an encoded message queued for ``recipients`` connections."""
    binary = opcode == Opcode.BINARY
    text, truncated = preview(payload, binary)
    return MessageOut(
        conn_id=conn_id,
        endpoint=endpoint,
        size=len(payload),
        binary=binary,
        preview=text,
        truncated=truncated,
        recipients=recipients,
        rooms=rooms,
        user=user,
    )


def _event_args_json(args: tuple[Any, ...] | list[Any]) -> str:
    def binary(value: object) -> str:
        if isinstance(value, (bytes, bytearray)):
            return f"<binary {len(value)} bytes>"
        return repr(value)

    return json.dumps(list(args), ensure_ascii=False, default=binary)


def _shown(args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """An event's arguments as a message event shows them: size, preview, cut or not."""
    text = _event_args_json(args)
    shown, truncated = preview(text, False)
    return {"size": len(text.encode("utf-8")), "preview": shown, "truncated": truncated}


def event_in(
    conn_id: str, endpoint: str, event: str, args: tuple[Any, ...] | list[Any], *, ack: bool = False
) -> MessageIn:
    """Describe a Socket.IO event (or, with ``ack``, an acknowledgement) from a client."""
    return MessageIn(conn_id=conn_id, endpoint=endpoint, event=event, ack=ack, **_shown(args))


def event_out(
    conn_id: str | None,
    endpoint: str | None,
    event: str,
    args: tuple[Any, ...] | list[Any],
    *,
    recipients: int = 1,
    rooms: tuple[str, ...] | None = None,
    ack: bool = False,
) -> MessageOut:
    """Describe a Socket.IO event (or, with ``ack``, an acknowledgement) queued for clients."""
    return MessageOut(
        conn_id=conn_id,
        endpoint=endpoint,
        recipients=recipients,
        rooms=rooms,
        event=event,
        ack=ack,
        **_shown(args),
    )


class EventBus:
    """Fans events out to subscribers, and tells publishers whether anyone listens.

    Attributes:
        active: Someone listens to connection events (open, close, rooms, errors).
        wants_messages: Someone listens to message events too.
    """

    __slots__ = ("active", "wants_messages", "_subscribers")

    def __init__(self) -> None:
        self.active = False
        self.wants_messages = False
        self._subscribers: list[tuple[Subscriber, bool]] = []

    def subscribe(self, callback: Subscriber, *, messages: bool = True) -> Callable[[], None]:
        """Call ``callback`` with every event from now on.

        Args:
            callback: Runs inside the publisher; it must not block.
            messages: Also receive ``MessageIn`` and ``MessageOut`` events.

        Returns:
            A function that ends the subscription (calling it twice is harmless).
        """
        entry = (callback, messages)
        self._subscribers.append(entry)
        self._refresh()

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
                self._refresh()

        return unsubscribe

    def _refresh(self) -> None:
        self.active = bool(self._subscribers)
        self.wants_messages = any(messages for _, messages in self._subscribers)

    def publish(self, event: Event) -> None:
        """Give ``event`` to every subscriber; a failing subscriber is logged and skipped."""
        is_message = isinstance(event, MESSAGE_EVENTS)
        for callback, messages in tuple(self._subscribers):
            if is_message and not messages:
                continue
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - one broken listener must not break the server
                log.exception("event subscriber %r failed on a %s event", callback, event.kind)
