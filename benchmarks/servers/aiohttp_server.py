"""Raw aiohttp doing the same work: the framework-overhead baseline.

Broadcast is the naive loop a handler author writes: ``await send_str`` to
each other member in turn.
"""

from __future__ import annotations

import json

from aiohttp import WSMsgType, web

from .common import dumps, parse_args, run, serve_app

ROOM: set[web.WebSocketResponse] = set()


async def echo(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    async for message in socket:
        if message.type is WSMsgType.TEXT:
            await socket.send_str(dumps(json.loads(message.data)))
    return socket


async def room(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    ROOM.add(socket)
    try:
        async for message in socket:
            if message.type is not WSMsgType.TEXT:
                continue
            text = dumps(json.loads(message.data))
            for other in list(ROOM):
                if other is not socket and not other.closed:
                    try:
                        await other.send_str(text)
                    except ConnectionError:
                        pass
    finally:
        ROOM.discard(socket)
    return socket


async def main(port: int) -> None:
    app = web.Application()
    app.router.add_get("/echo", echo)
    app.router.add_get("/room", room)
    await serve_app(app, port)


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run(lambda: main(args.port), args.loop)
