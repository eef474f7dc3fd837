"""Notifications for a signed-in user; the connection needs a JWT (?token=...).

Get a token and the URL to paste into your app:
    mockws token --config config.example.yaml --endpoint /ws/notifications \\
        --sub alice --claim role=admin

on connect                   -> {"type": "hello", "user": "alice", "role": "admin", "unread": 3}
{"type": "history"}          -> {"type": "history", "items": [...]}  (a few KiB: sent compressed)
{"type": "read", "id": 2}    -> {"type": "read", "id": 2, "unread": 2}  (small: sent plain)
{"type": "notify", "to": "bob", "text": "hi"}
    -> bob's connections get {"type": "notification", "from": "alice", "text": "hi"}
       and the sender gets {"type": "sent", "to": "bob", "reached": 1}
every INTERVAL seconds, everyone gets {"type": "notification", "from": "ci", ...}
"""

import asyncio
from typing import Any

from mockws import Connection, Hub

INTERVAL = 10.0
ROOM = "notifications"


def _history(user: str) -> list[dict[str, Any]]:
    return [
        {
            "id": number,
            "from": "ci",
            "text": f"Build #{1000 + number} for {user}'s branch passed all checks",
            "read": number > 3,
        }
        for number in range(1, 41)
    ]


async def on_connect(conn: Connection) -> None:
    user = conn.user_id or "anonymous"
    conn.state["unread"] = {item["id"] for item in _history(user) if not item["read"]}
    conn.join(ROOM)
    await conn.send(
        {
            "type": "hello",
            "user": user,
            "role": conn.auth_data.get("role") if isinstance(conn.auth_data, dict) else None,
            "unread": len(conn.state["unread"]),
        }
    )


async def on_message(conn: Connection, data: Any) -> None:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "history":
        await conn.send({"type": "history", "items": _history(conn.user_id or "anonymous")})
    elif kind == "read":
        conn.state["unread"].discard(data.get("id"))
        await conn.send({"type": "read", "id": data.get("id"), "unread": len(conn.state["unread"])})
    elif kind == "notify" and isinstance(data.get("to"), str):
        event = {"type": "notification", "from": conn.user_id, "text": data.get("text", "")}
        reached = await conn.hub.send_to_user(data["to"], event)
        await conn.send({"type": "sent", "to": data["to"], "reached": reached})
    else:
        await conn.send({"type": "error", "error": f"unknown message type {kind!r}"})


async def background(hub: Hub) -> None:
    build = 2000
    while True:
        await asyncio.sleep(INTERVAL)
        build += 1
        event = {"type": "notification", "from": "ci", "text": f"Build #{build} passed"}
        await hub.broadcast(event, rooms=ROOM)
