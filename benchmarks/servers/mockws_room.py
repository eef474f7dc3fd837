"""mockws handler of the benchmark's /room endpoint: everyone in one room."""


async def on_connect(conn):
    conn.join("bench")


async def on_message(conn, data):
    await conn.broadcast(data, rooms="bench")
