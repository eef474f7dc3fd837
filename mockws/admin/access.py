"""Who may reach the admin API and the inspector.

Without an ``admin_token`` they are served only while the server is bound
to a loopback address, and only to requests whose ``Host`` is a loopback
name (so a foreign DNS name pointed at 127.0.0.1 cannot reach them). With a
token they are served on any address, to requests that carry it as
``Authorization: Bearer <token>`` or ``?admin_token=<token>``. A browser
request from another origin is refused in both cases.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from ..server.urls import parse_host, parse_origin
from .api import json_reply

__all__ = ["ADMIN_TOKEN_PARAM", "admin_enabled", "check_access", "is_loopback"]

ADMIN_TOKEN_PARAM = "admin_token"


def is_loopback(host: str | None) -> bool:
    """Tell whether ``host`` (a name or an address, maybe in brackets) is loopback."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def admin_enabled(bind_host: str, admin_token: str | None) -> bool:
    """Tell whether the admin routes exist at all for this bind address and token."""
    return admin_token is not None or is_loopback(bind_host)


def _given_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get(ADMIN_TOKEN_PARAM)


def _same_origin(origin: str, host: tuple[str, int | None], scheme: str) -> bool:
    """Tell whether ``origin`` is this server's own (``scheme`` is https under TLS)."""
    parsed = parse_origin(origin)
    if parsed is None or parsed[0] != scheme:
        return False
    default = 443 if scheme == "https" else 80
    port = default if parsed[2] is None else parsed[2]
    return (parsed[1], port) == (host[0], default if host[1] is None else host[1])


def check_access(
    request: web.Request, bind_host: str, admin_token: str | None, *, require_token: bool = True
) -> web.Response | None:
    """Return the refusal for ``request``, or None when it may proceed.

    Args:
        request: The request to an admin route.
        bind_host: The address the server is bound to.
        admin_token: The configured token, or None.
        require_token: False for the page and its assets, which hold no data.

    Returns:
        404 when the admin routes are off, 401 without the configured token,
        403 for a foreign Host (no token set) or a foreign Origin.
    """
    if not admin_enabled(bind_host, admin_token):
        return web.Response(status=404, text="Not Found\n")
    # Parsed strictly: "evil.com\@localhost", "user@localhost" or a bad port are refused.
    host = parse_host(request.headers.get("Host", ""))
    if host is None:
        return json_reply({"error": "the Host header is not a valid host[:port]"}, 400)
    if admin_token is None:
        if not is_loopback(host[0]):
            return json_reply({"error": "the admin API answers loopback host names only"}, 403)
    elif require_token:
        given = _given_token(request)
        # aiohttp decodes header bytes with surrogateescape: encode them back the same way.
        if given is None or not hmac.compare_digest(
            given.encode("utf-8", "surrogateescape"), admin_token.encode()
        ):
            message = (
                "admin token required: send 'Authorization: Bearer <token>' "
                f"or add ?{ADMIN_TOKEN_PARAM}=<token>"
            )
            return json_reply({"error": message}, 401)
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(origin, host, request.scheme):
        return json_reply({"error": f"origin {origin} may not use the admin API"}, 403)
    return None
