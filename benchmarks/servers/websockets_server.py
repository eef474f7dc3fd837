"""The ``websockets`` library's asyncio server doing the same work.

Broadcast uses ``websockets.asyncio.server.broadcast``, the library's own
fan-out that writes without awaiting each recipient.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection, broadcast, serve

from .common import dumps, parse_args, ready, run

ROOM: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    path = connection.request.path if connection.request else ""
    if path == "/echo":
        async for message in connection:
            await connection.send(dumps(json.loads(message)))
    elif path == "/room":
        ROOM.add(connection)
        try:
            async for message in connection:
                broadcast([c for c in ROOM if c is not connection], dumps(json.loads(message)))
        finally:
            ROOM.discard(connection)
    else:
        await connection.close(1008)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=2**20, backlog=1024):
        ready(port)
        await asyncio.Event().wait()


if __name__ == "__main__":
    args = parse_args(__doc__ or "")
    run(lambda: main(args.port), args.loop)
