"""A game lobby per {game_id}: every event goes to all players, the sender too.

on connect                   -> all players get {"type": "player_joined", ...}
{"type": "ready"}            -> all players get {"type": "player_ready", "player": id}
{"type": "move", "move": m}  -> all players get {"type": "move", "player": id, "move": m}
"""

from typing import Any

from mockws import Connection


def _room(conn: Connection) -> str:
    return f"game:{conn.params['game_id']}"


async def on_connect(conn: Connection) -> None:
    conn.join(_room(conn))
    players = len(conn.hub.rooms[_room(conn)])
    event = {
        "type": "player_joined",
        "game": conn.params["game_id"],
        "player": conn.id,
        "players": players,
    }
    await conn.broadcast(event, rooms=[_room(conn)], include_self=True)


async def on_message(conn: Connection, data: Any) -> None:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "ready":
        event: dict[str, Any] = {"type": "player_ready", "player": conn.id}
    elif kind == "move":
        event = {"type": "move", "player": conn.id, "move": data.get("move")}
    else:
        await conn.send({"type": "error", "error": f"unknown message type {kind!r}"})
        return
    await conn.broadcast(event, rooms=[_room(conn)], include_self=True)


async def on_close(conn: Connection, code: int, reason: str) -> None:
    await conn.broadcast({"type": "player_left", "player": conn.id}, rooms=[_room(conn)])
