"""Addresses as a user types them: hosts in URLs and the URLs mockws prints."""

from __future__ import annotations

import ipaddress
import re

__all__ = ["parse_host", "parse_origin", "url_host"]


def url_host(host: str) -> str:
    """Return ``host`` as it stands in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


_REG_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.?")
_PORT = re.compile(r"[0-9]{1,5}")


def parse_host(value: str) -> tuple[str, int | None] | None:
    """Split a ``Host`` header (``name``, ``name:port``, ``[v6]:port``) strictly.

    Returns:
        The lower-cased host (an IPv6 address without brackets) and the port
        or None; None for anything else: userinfo (``user@``), a backslash,
        text around brackets, a port that is not a number in 0-65535, an
        empty name, characters a host name cannot hold.
    """
    value = value.strip().lower()
    port: int | None = None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        try:
            if ipaddress.ip_address(host).version != 6:
                return None
        except ValueError:
            return None
        if rest:
            if not rest.startswith(":"):
                return None
            port = _port(rest[1:])
            if port is None:
                return None
        return host, port
    host, colon, port_text = value.partition(":")
    if colon:
        port = _port(port_text)
        if port is None:
            return None
    if not _REG_NAME.fullmatch(host):
        return None
    return host, port


def _port(text: str) -> int | None:
    if not _PORT.fullmatch(text):
        return None
    port = int(text)
    return port if port <= 65535 else None


def parse_origin(value: str) -> tuple[str, str, int | None] | None:
    """Split an ``Origin`` header (``scheme://host[:port]``) strictly.

    Returns:
        The lower-cased scheme, the host as :func:`parse_host` gives it, and
        the port or None; None when it is not exactly that (a path, a query,
        userinfo, a backslash, ``null``).
    """
    scheme, sep, rest = value.strip().lower().partition("://")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme):
        return None
    rest = rest[:-1] if rest.endswith("/") else rest
    if any(char in rest for char in "/?#@\\"):
        return None
    parsed = parse_host(rest)
    return None if parsed is None else (scheme, parsed[0], parsed[1])
