"""The Socket.IO keys of an endpoint: ``protocol`` and ``namespaces``.

A Socket.IO endpoint's pattern is the server's ``path`` (Socket.IO's
default is ``/socket.io/``); it may end in ``/``, which the router ignores.
"""

from __future__ import annotations

from .keys import KeyReader
from .model import PROTOCOLS, SOCKETIO

__all__ = ["parse_protocol"]


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
