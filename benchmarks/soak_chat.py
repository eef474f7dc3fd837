"""The handler `benchmarks/soak.py` churns: join, chat, leave, plus a stats query."""


async def on_message(conn, data):
    op = data.get("op")
    if op == "join":
        conn.join(data["room"])
    elif op == "leave":
        conn.leave(data["room"])
    elif op == "chat":
        await conn.broadcast(data, rooms=data["room"], include_self=True)
    elif op == "stats":
        others = [c for c in conn.hub.connections if c != conn.id]
        await conn.send({"connections": len(others), "rooms": len(conn.hub.rooms)})
