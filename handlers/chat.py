"""Chat rooms: join, leave and chat; the sender does not get its own message.

Messages (JSON):
    {"type": "join", "room": "lobby"}      -> {"type": "joined", "room": "lobby"}
    {"type": "leave", "room": "lobby"}     -> {"type": "left", "room": "lobby"}
    {"type": "chat", "room": "lobby", "text": "hi"}
        -> every other member gets {"type": "chat", "room", "from", "text"}
    anything else                          -> {"type": "error", "error": "..."}
"""

from typing import Any

from mockws import Connection


async def on_connect(conn: Connection) -> None:
    await conn.send({"type": "welcome", "id": conn.id})


async def on_message(conn: Connection, data: Any) -> None:
    kind = data.get("type") if isinstance(data, dict) else None
    room = data.get("room") if isinstance(data, dict) else None
    if kind in ("join", "leave", "chat") and not (isinstance(room, str) and room):
        await conn.send({"type": "error", "error": f"'{kind}' needs a 'room'"})
    elif kind == "join":
        conn.join(room)
        await conn.send({"type": "joined", "room": room})
        await conn.broadcast({"type": "presence", "room": room, "joined": conn.id}, rooms=[room])
    elif kind == "leave":
        conn.leave(room)
        await conn.send({"type": "left", "room": room})
    elif kind == "chat":
        if room not in conn.rooms:
            await conn.send({"type": "error", "error": f"join '{room}' before chatting in it"})
            return
        message = {"type": "chat", "room": room, "from": conn.id, "text": data.get("text", "")}
        await conn.broadcast(message, rooms=[room])
    else:
        await conn.send({"type": "error", "error": f"unknown message type {kind!r}"})


async def on_close(conn: Connection, code: int, reason: str) -> None:
    for room in conn.rooms:
        await conn.broadcast({"type": "presence", "room": room, "left": conn.id}, rooms=[room])
