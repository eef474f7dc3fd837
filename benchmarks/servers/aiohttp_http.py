"""Raw aiohttp serving one JSON route: the baseline of the HTTP routes benchmark.

``GET /api/item`` answers with ``web.json_response``, the handler one writes
with plain aiohttp; ``/echo`` is the suite's raw aiohttp WebSocket echo, which it uses to see
that the server is up.
"""

from __future__ import annotations

from aiohttp import web

from .aiohttp_server import echo
from .common import parse_args, run, serve_app

ITEM = {"id": 1, "name": "lamp", "price": 12.5, "tags": ["home", "light"]}


async def item(request: web.Request) -> web.Response:
    return web.json_response(ITEM)


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/api/item", item)
    app.router.add_get("/echo", echo)
    await serve_app(app, port)


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run(lambda: main(args.port), args.loop)
