"""Echo every message back unchanged: the server under Autobahn's fuzzing client."""


async def on_message(conn, data):
    await conn.send(data)
