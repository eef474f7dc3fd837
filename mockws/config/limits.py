"""Resource limits: what they are, their defaults, and how the config names them.

Server-wide limits live under the top-level ``limits:`` key, per-endpoint
ones under an endpoint's ``limits:`` key::

    limits:
      max_connections: 10000      # WebSocket connections per server; more get HTTP 503
      handshake_timeout: 10       # seconds to send a complete upgrade request
      max_header_size: 16384      # bytes of request line + headers; more get HTTP 431
      slow_hook_warning: 0.1      # log a hook that blocks the event loop this long
    endpoints:
      - pattern: /ws/chat
        handler: chat.py
        limits:
          max_connections: 100            # connections to this endpoint; more get 503
          send_high_water: 4194304        # bytes queued for a client before its messages drop
          slow_client_timeout: 30         # seconds over send_high_water before a 1008 close
          slow_client_max_dropped: 10000  # messages dropped in a row before a 1008 close
          max_fragments: 4096             # frames in one message; more fail it with 1008
          max_queue: 256                  # messages received, not yet handled; then stop reading
          on_backpressure: wait           # over send_high_water: wait | drop_oldest | ...
          close_grace: 5                  # seconds a failed client has to read its close

A count or a time of ``0`` or ``null`` means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .keys import KeyReader

__all__ = [
    "DEFAULT_HANDSHAKE_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_FRAGMENTS",
    "DEFAULT_MAX_HEADER_SIZE",
    "BACKPRESSURE_POLICIES",
    "DEFAULT_CLOSE_GRACE",
    "DEFAULT_MAX_QUEUE",
    "DEFAULT_SEND_HIGH_WATER",
    "DEFAULT_SLOW_CLIENT_MAX_DROPPED",
    "DEFAULT_SLOW_CLIENT_TIMEOUT",
    "DEFAULT_SLOW_HOOK_WARNING",
    "ENDPOINT_LIMIT_KEYS",
    "SERVER_LIMIT_KEYS",
    "EndpointLimits",
    "ServerLimits",
    "parse_endpoint_limits",
    "parse_server_limits",
]

DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_HANDSHAKE_TIMEOUT = 10.0
DEFAULT_MAX_HEADER_SIZE = 16 * 1024
DEFAULT_SLOW_HOOK_WARNING = 0.1
DEFAULT_SEND_HIGH_WATER = 4 * 1024 * 1024
DEFAULT_SLOW_CLIENT_TIMEOUT = 30.0
DEFAULT_SLOW_CLIENT_MAX_DROPPED = 10_000
DEFAULT_MAX_FRAGMENTS = 4096
DEFAULT_MAX_QUEUE = 256
DEFAULT_CLOSE_GRACE = 5.0
# What happens to a message for a client over send_high_water (see wire/outbox.py).
BACKPRESSURE_POLICIES = ("wait", "drop_oldest", "drop_newest", "close")

# Smallest header budget that still fits a browser's upgrade request.
_MIN_HEADER_SIZE = 1024


@dataclass(frozen=True)
class ServerLimits:
    """Limits that hold for the whole server.

    Attributes:
        max_connections: Open WebSocket connections (including those being
            upgraded); further upgrade requests get HTTP 503. None: no limit.
        handshake_timeout: Seconds a client has, from connecting, to send a
            complete HTTP request; then the TCP connection is closed. None: no limit.
        max_header_size: Bytes of request line and headers; a larger request
            gets HTTP 431.
        slow_hook_warning: A hook that runs this many seconds without
            yielding to the event loop is logged as a warning. None: off.
    """

    max_connections: int | None = DEFAULT_MAX_CONNECTIONS
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    slow_hook_warning: float | None = DEFAULT_SLOW_HOOK_WARNING


@dataclass(frozen=True)
class EndpointLimits:
    """Limits for the connections of one endpoint.

    Attributes:
        max_connections: Open connections to this endpoint; further upgrade
            requests get HTTP 503. None: only the server's limit applies.
        send_high_water: Bytes queued for one client (ours plus the
            transport's buffer) above which ``on_backpressure`` applies.
        slow_client_timeout: Seconds a client may stay above
            ``send_high_water`` before it is closed with 1008. None: never.
        slow_client_max_dropped: Messages dropped in a row for one client
            (the drop policies) before it is closed with 1008. None: never.
        max_fragments: Frames one incoming message may span; a message with
            more fails the connection with 1008. None: no limit.
        max_queue: Incoming messages received but not yet handed to the
            handler; at this many the server stops reading from the client
            until the handler has caught up to half of it. None: no limit
            (aiohttp still stops reading past 128 KiB of them).
        on_backpressure: What a message to a client over ``send_high_water``
            does: ``wait`` (the sender waits for the client to drain),
            ``drop_oldest`` / ``drop_newest`` (one queued message is dropped
            and counted), ``close`` (the client is closed with 1008).
        close_grace: Seconds the socket of a client closed for being too slow
            is kept so that it can read the close frame behind its backlog.
    """

    max_connections: int | None = None
    send_high_water: int = DEFAULT_SEND_HIGH_WATER
    slow_client_timeout: float | None = DEFAULT_SLOW_CLIENT_TIMEOUT
    slow_client_max_dropped: int | None = DEFAULT_SLOW_CLIENT_MAX_DROPPED
    max_fragments: int | None = DEFAULT_MAX_FRAGMENTS
    max_queue: int | None = DEFAULT_MAX_QUEUE
    on_backpressure: str = "wait"
    close_grace: float = DEFAULT_CLOSE_GRACE


SERVER_LIMIT_KEYS = ("max_connections", "handshake_timeout", "max_header_size", "slow_hook_warning")
ENDPOINT_LIMIT_KEYS = (
    "max_connections",
    "send_high_water",
    "slow_client_timeout",
    "slow_client_max_dropped",
    "max_fragments",
    "max_queue",
    "on_backpressure",
    "close_grace",
)


def _count(section: KeyReader, name: str, default: int | None) -> int | None:
    if not section.has(name):
        return default
    value = section.raw(name)
    if value is None or (value == 0 and not isinstance(value, bool)):
        return None
    return section.integer(name, 0, minimum=1)


def _seconds(section: KeyReader, name: str, default: float | None) -> float | None:
    return section.seconds(name) if section.has(name) else default


def _policy(section: KeyReader) -> str:
    policy = section.string("on_backpressure", "wait") or "wait"
    if policy not in BACKPRESSURE_POLICIES:
        choices = ", ".join(BACKPRESSURE_POLICIES)
        raise section.error("on_backpressure", f"expected one of {choices}, got {policy!r}")
    return policy


def parse_server_limits(parent: KeyReader) -> ServerLimits:
    """Read the top-level ``limits`` mapping of ``parent``.

    Raises:
        ConfigError: A key is unknown or a value has the wrong type or range.
    """
    section = parent.child("limits")
    if section is None:
        return ServerLimits()
    limits = ServerLimits(
        max_connections=_count(section, "max_connections", DEFAULT_MAX_CONNECTIONS),
        handshake_timeout=_seconds(section, "handshake_timeout", DEFAULT_HANDSHAKE_TIMEOUT),
        max_header_size=section.integer(
            "max_header_size", DEFAULT_MAX_HEADER_SIZE, minimum=_MIN_HEADER_SIZE, unit=" of bytes"
        ),
        slow_hook_warning=_seconds(section, "slow_hook_warning", DEFAULT_SLOW_HOOK_WARNING),
    )
    section.finish(SERVER_LIMIT_KEYS)
    return limits


def parse_endpoint_limits(parent: KeyReader) -> EndpointLimits:
    """Read the ``limits`` mapping of one endpoint section.

    Raises:
        ConfigError: A key is unknown or a value has the wrong type or range.
    """
    section = parent.child("limits")
    if section is None:
        return EndpointLimits()
    limits = EndpointLimits(
        max_connections=_count(section, "max_connections", None),
        send_high_water=section.integer(
            "send_high_water", DEFAULT_SEND_HIGH_WATER, minimum=1, unit=" of bytes"
        ),
        slow_client_timeout=_seconds(section, "slow_client_timeout", DEFAULT_SLOW_CLIENT_TIMEOUT),
        slow_client_max_dropped=_count(
            section, "slow_client_max_dropped", DEFAULT_SLOW_CLIENT_MAX_DROPPED
        ),
        max_fragments=_count(section, "max_fragments", DEFAULT_MAX_FRAGMENTS),
        max_queue=_count(section, "max_queue", DEFAULT_MAX_QUEUE),
        on_backpressure=_policy(section),
        close_grace=_seconds(section, "close_grace", DEFAULT_CLOSE_GRACE) or 0.0,
    )
    section.finish(ENDPOINT_LIMIT_KEYS)
    return limits
