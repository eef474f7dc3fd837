"""A live dashboard: every client gets an update each second.

Every connection is in the "dashboard" room and receives
{"type": "update", "tick": n, "users_online": k}. A client can also
subscribe to extra channels ("cpu", "memory"), each pushed every second:
    {"type": "subscribe", "channel": "cpu"}   -> {"type": "subscribed", "channel": "cpu"}
    {"type": "unsubscribe", "channel": "cpu"} -> {"type": "unsubscribed", "channel": "cpu"}
"""

import asyncio
import math
from typing import Any

from mockws import Connection, Hub

CHANNELS = ("cpu", "memory")
INTERVAL = 1.0


async def on_connect(conn: Connection) -> None:
    conn.join("dashboard")
    await conn.send({"type": "hello", "channels": list(CHANNELS)})


async def on_message(conn: Connection, data: Any) -> None:
    kind = data.get("type") if isinstance(data, dict) else None
    channel = data.get("channel") if isinstance(data, dict) else None
    if kind in ("subscribe", "unsubscribe") and channel not in CHANNELS:
        await conn.send({"type": "error", "error": f"unknown channel {channel!r}"})
    elif kind == "subscribe":
        conn.join(f"channel:{channel}")
        await conn.send({"type": "subscribed", "channel": channel})
    elif kind == "unsubscribe":
        conn.leave(f"channel:{channel}")
        await conn.send({"type": "unsubscribed", "channel": channel})
    else:
        await conn.send({"type": "error", "error": f"unknown message type {kind!r}"})


async def background(hub: Hub) -> None:
    tick = 0
    while True:
        await asyncio.sleep(INTERVAL)
        tick += 1
        users = len(hub.rooms.get("dashboard", ()))
        await hub.broadcast(
            {"type": "update", "tick": tick, "users_online": users}, rooms="dashboard"
        )
        await hub.broadcast(
            {"type": "metric", "channel": "cpu", "value": round(50 + 40 * math.sin(tick / 5), 1)},
            rooms="channel:cpu",
        )
        await hub.broadcast(
            {"type": "metric", "channel": "memory", "value": 2048 + (tick * 37) % 512},
            rooms="channel:memory",
        )
