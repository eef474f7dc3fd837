"""The inspector's live feed: a WebSocket that streams the server's events.

On connect it sends a ``snapshot`` (server, connections, rooms); then
``events`` batches (at most one frame per loop wake-up, in publish order)
and, every second, ``counters`` with each connection's message counts and
user. Subscribing costs the hot path nothing more than serialising events
into a bounded queue; a feed that falls behind drops events and says how
many in its next batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from ..hub.broker import Cluster
from ..observe.events import Event, event_to_dict
from .views import cluster_views, counters_view, server_view

if TYPE_CHECKING:
    from ..server.app import MockServer

__all__ = ["MAX_BACKLOG", "Feeds"]

MAX_BACKLOG = 5000
MAX_BATCH = 500
COUNTERS_INTERVAL = 1.0


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


class _Subscription:
    """One feed's queue of serialised events."""

    def __init__(self) -> None:
        self.backlog: deque[dict[str, Any]] = deque()
        self.dropped = 0
        self.wake = asyncio.Event()

    def __call__(self, event: Event) -> None:
        if len(self.backlog) >= MAX_BACKLOG:
            self.dropped += 1
            return
        self.backlog.append(event_to_dict(event))
        self.wake.set()

    def take(self) -> dict[str, Any] | None:
        if not self.backlog and not self.dropped:
            return None
        count = min(len(self.backlog), MAX_BATCH)
        batch = {
            "type": "events",
            "events": [self.backlog.popleft() for _ in range(count)],
            "dropped": self.dropped,
        }
        self.dropped = 0
        if not self.backlog:
            self.wake.clear()
        return batch


class Feeds:
    """Every open feed of one server, so that shutdown can close them.

    Args:
        server: The server whose events the feeds stream.
    """

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.sockets: set[web.WebSocketResponse] = set()

    async def snapshot(self) -> dict[str, Any]:
        """Return the page's starting state: connections and rooms of every process."""
        views = await cluster_views(self.server.hub)
        return {
            "type": "snapshot",
            "server": server_view(self.server),
            "connections": views.connections,
            "rooms": views.rooms,
        }

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one feed until the page goes away or the server stops."""
        socket = web.WebSocketResponse(heartbeat=30.0)
        await socket.prepare(request)
        subscription = _Subscription()
        # Subscribe before the snapshot: an event in between is seen twice, never lost.
        unsubscribe = self.server.hub.events.subscribe(subscription)
        self.sockets.add(socket)
        sender: asyncio.Task[None] | None = None
        try:
            await socket.send_str(_dumps(await self.snapshot()))
            sender = asyncio.create_task(self._send(socket, subscription))
            async for message in socket:
                if message.type is WSMsgType.ERROR:
                    break
        except ConnectionResetError:
            pass
        finally:
            unsubscribe()
            self.sockets.discard(socket)
            if sender is not None:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
        return socket

    async def _send(self, socket: web.WebSocketResponse, subscription: _Subscription) -> None:
        loop = asyncio.get_running_loop()
        next_counters = loop.time() + COUNTERS_INTERVAL
        while not socket.closed:
            with contextlib.suppress(TimeoutError):
                timeout = max(0.0, next_counters - loop.time())
                await asyncio.wait_for(subscription.wake.wait(), timeout)
            batch = subscription.take()
            if batch is not None:
                await socket.send_str(_dumps(batch))
            if loop.time() >= next_counters:
                next_counters = loop.time() + COUNTERS_INTERVAL
                counters = counters_view(self.server.hub)
                await socket.send_str(_dumps({"type": "counters", "connections": counters}))
                if isinstance(self.server.hub.broker, Cluster):
                    # Other processes' events do not reach this feed: resend the union.
                    await socket.send_str(_dumps(await self.snapshot()))

    async def close_all(self, app: web.Application | None = None) -> None:
        """Close every feed with 1001 (an aiohttp ``on_shutdown`` callback)."""
        await asyncio.gather(
            *(socket.close(code=1001, message=b"Server shutting down") for socket in self.sockets),
            return_exceptions=True,
        )
