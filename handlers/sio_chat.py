"""A Socket.IO chat: rooms, presence and acknowledgements (see docs/socketio.md).

Connect with a name: ``io("http://127.0.0.1:8765", {auth: {name: "ann"}})``;
a client without one gets a ``connect_error`` saying so.

Events:
    "join" (room)                          -> ack {"room", "members"}; the room's
                                              others get "presence" {"room", "joined"}
    "chat message" ({"room", "text"})      -> everyone in the room, sender included,
                                              gets "chat message" {"room", "from", "text"};
                                              ack {"ok": true}
    "whoami" ()                            -> ack {"id", "name", "rooms"}
    anything else                          -> the sender gets "error" {"error": "..."}
"""

from typing import Any

from mockws import AuthResult, SioConnection


async def on_connect(conn: SioConnection, auth: Any) -> AuthResult | None:
    name = auth.get("name") if isinstance(auth, dict) else None
    if not isinstance(name, str) or not name.strip():
        return AuthResult(False, reason="a name is required: io(url, {auth: {name: 'ann'}})")
    conn.state["name"] = name.strip()
    return None


async def on_join(conn: SioConnection, room: str) -> dict[str, Any]:
    conn.join(room)
    await conn.broadcast("presence", {"room": room, "joined": conn.state["name"]}, rooms=[room])
    return {"room": room, "members": len(conn.hub.rooms[room])}


async def chat_message(conn: SioConnection, message: Any) -> dict[str, Any]:
    room = message.get("room") if isinstance(message, dict) else None
    if room not in conn.rooms:
        return {"ok": False, "error": f"join {room!r} before chatting in it"}
    text = message.get("text", "")
    out = {"room": room, "from": conn.state["name"], "text": text}
    await conn.broadcast("chat message", out, rooms=[room], include_self=True)
    return {"ok": True}


EVENTS = {"chat message": chat_message}


async def on_whoami(conn: SioConnection) -> dict[str, Any]:
    return {"id": conn.id, "name": conn.state["name"], "rooms": sorted(conn.rooms)}


async def on_event(conn: SioConnection, event: str, *args: Any) -> None:
    await conn.emit("error", {"error": f"unknown event {event!r}"})


async def on_close(conn: SioConnection, reason: str) -> None:
    for room in conn.rooms:
        await conn.broadcast("presence", {"room": room, "left": conn.state["name"]}, rooms=[room])
