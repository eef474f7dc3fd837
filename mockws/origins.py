"""Pure Origin header policy against cross-site WebSocket hijacking."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_HOSTS", "origin_allowed"]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def origin_allowed(origin: str | None, allowed: Sequence[str] | None) -> bool:
    """Tell whether a handshake with this ``Origin`` header may proceed.

    Args:
        origin: The header's value; None when the client sent none (a
            non-browser client), which is always allowed.
        allowed: Exact origins (scheme://host[:port]), ``"*"`` for all, or
            None for the default: http and https on loopback hosts, any port.
    """
    if origin is None:
        return True
    normalized = origin.strip().lower().rstrip("/")
    if allowed is None:
        try:
            parts = urlsplit(normalized)
            host = parts.hostname
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and host in LOOPBACK_HOSTS
    return any(entry == "*" or entry.lower().rstrip("/") == normalized for entry in allowed)
