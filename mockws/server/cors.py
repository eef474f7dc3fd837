"""CORS for the HTTP routes: which origins may call them, and the preflight answer.

The origins are the config's ``allowed_origins``, read as the WebSocket
handshake reads them (:func:`~mockws.server.handshake.origin_allowed`):
loopback origins by default, the listed ones otherwise, every one for
``["*"]``. An allowed origin gets its own value back in
``Access-Control-Allow-Origin`` (so ``credentials: "include"`` works too);
a preflight gets the method and headers it asks for, since a mock should
let the app under development send whatever it sends. A request from
another origin gets 403 and no CORS headers.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web

__all__ = ["PREFLIGHT_MAX_AGE", "allow_headers", "is_preflight", "preflight_response"]

PREFLIGHT_MAX_AGE = "600"


def is_preflight(request: web.Request) -> bool:
    """Tell whether ``request`` is a CORS preflight (OPTIONS with Origin and the asked method)."""
    headers = request.headers
    return (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ORIGIN in headers
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in headers
    )


def allow_headers(origin: str, response: web.StreamResponse, expose: Iterable[str] = ()) -> None:
    """Add the CORS headers that let a page from ``origin`` read ``response``."""
    headers = response.headers
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    headers[hdrs.ACCESS_CONTROL_ALLOW_CREDENTIALS] = "true"
    headers[hdrs.VARY] = hdrs.ORIGIN
    exposed = ", ".join(dict.fromkeys(expose))
    if exposed:
        headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = exposed


def preflight_response(request: web.Request, allowed: bool) -> web.Response:
    """Answer a preflight: 204 granting the method and headers it asks when ``allowed``, else 403.

    The method is granted whether or not a route takes it, so that the real
    request gets its readable 404 or 405 rather than an opaque CORS failure.
    """
    origin = request.headers[hdrs.ORIGIN]
    if not allowed:
        return web.json_response(
            {"error": f"origin {origin} is not allowed (allowed_origins)"}, status=403
        )
    asked = request.headers[hdrs.ACCESS_CONTROL_REQUEST_METHOD].strip().upper()
    response = web.Response(status=204)
    allow_headers(origin, response)
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = asked
    asked_headers = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS, "").strip()
    if asked_headers:
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = asked_headers
    response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = PREFLIGHT_MAX_AGE
    response.headers[hdrs.VARY] = (
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    )
    return response
