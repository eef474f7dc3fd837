"""Raw aiohttp serving one JSON route: the baseline of the HTTP routes benchmark.

``GET /api/item`` answers with ``web.json_response``, the handler one writes
with plain aiohttp; ``/echo`` is the WebSocket echo the suite uses to see
that the server is up.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from .common import parse_args, ready, run

ITEM = {"id": 1, "name": "lamp", "price": 12.5, "tags": ["home", "light"]}


async def item(request: web.Request) -> web.Response:
    return web.json_response(ITEM)


async def echo(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    async for message in socket:
        if message.type is WSMsgType.TEXT:
            await socket.send_str(json.dumps(json.loads(message.data)))
    return socket


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/api/item", item)
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    ready(port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run(lambda: main(args.port), args.loop)
