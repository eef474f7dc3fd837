"""The inspector page and the admin API, under ``/__mockws/`` on the server's port.

``GET /__mockws/`` is the live inspector page (static files shipped in
``mockws/admin/static``); ``/__mockws/feed`` is its event feed (a
WebSocket); ``/__mockws/api/...`` is the JSON admin API. Every route goes
through :func:`~mockws.admin.access.check_access` (loopback bind or
``admin_token``, else 404).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

from .access import admin_enabled, check_access
from .api import AdminApi, ApiError, Handler, json_reply
from .feed import Feeds
from .views import install_describer

if TYPE_CHECKING:
    from ..server.app import MockServer

__all__ = ["ADMIN_ROOT", "attach_admin", "inspector_url", "install_admin"]

ADMIN_ROOT = "/__mockws"

_ASSETS = {
    "index.html": "text/html",
    "inspector.css": "text/css",
    "inspector.js": "text/javascript",
}


def _asset(name: str) -> web.Response:
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return web.Response(
        body=body,
        content_type=_ASSETS[name],
        charset="utf-8",
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def inspector_url(server: MockServer) -> str | None:
    """Return the inspector's URL, or None when the admin routes are off."""
    config = server.config
    if not admin_enabled(config.host, config.admin_token):
        return None
    return server.http_url(f"{ADMIN_ROOT}/")


def attach_admin(server: MockServer) -> None:
    """Serve the inspector and the admin API on ``server``'s port; call it before ``start()``."""
    server.add_routes(functools.partial(install_admin, server=server))
    if admin_enabled(server.config.host, server.config.admin_token):
        server.add_home_link("Inspector: live connections, rooms and messages", f"{ADMIN_ROOT}/")
    install_describer(server.hub)


def install_admin(app: web.Application, server: MockServer) -> None:
    """Add the inspector, its feed and the admin API routes to ``app``.

    Call it before adding the catch-all endpoint route.
    """

    def guarded(handler: Handler, *, require_token: bool = True) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            config = server.config
            refusal = check_access(
                request, config.host, config.admin_token, require_token=require_token
            )
            if refusal is not None:
                return refusal
            try:
                return await handler(request)
            except ApiError as exc:
                return json_reply({"error": exc.message}, exc.status)

        return wrapper

    async def page(request: web.Request) -> web.StreamResponse:
        return _asset("index.html")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _ASSETS:
            raise web.HTTPNotFound()
        return _asset(name)

    async def to_page(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{ADMIN_ROOT}/")

    api = AdminApi(server)
    feeds = Feeds(server)
    app.on_shutdown.append(feeds.close_all)
    # The page and its assets hold no data: they need the admin routes
    # switched on, not the token, which the page asks for itself.
    app.router.add_get(ADMIN_ROOT, guarded(to_page, require_token=False))
    app.router.add_get(f"{ADMIN_ROOT}/", guarded(page, require_token=False))
    app.router.add_get(f"{ADMIN_ROOT}/static/{{name}}", guarded(asset, require_token=False))
    app.router.add_get(f"{ADMIN_ROOT}/feed", guarded(feeds.handle))
    for method, path, handler in api.routes(f"{ADMIN_ROOT}/api"):
        app.router.add_route(method, path, guarded(handler))
