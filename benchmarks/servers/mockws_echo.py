"""mockws handler of the benchmark's /echo endpoint: the message back, re-encoded."""


async def on_message(conn, data):
    await conn.send(data)
