"""Connection limits: HTTP 503 before the upgrade (mockws/server/handshake.py)."""

from __future__ import annotations

import aiohttp
import pytest

from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, eventually

ECHO = "async def on_message(conn, data):\n    await conn.send(data)\n"


async def refused_status(server: object, path: str) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await server.connect(path)  # type: ignore[attr-defined]
    return caught.value.status


async def test_endpoint_and_server_connection_limits_answer_503(write: WriteFile) -> None:
    """Past an endpoint's or the server's max_connections upgrades get 503; a close frees one."""
    base = write("echo_handler.py", ECHO).parent
    config = {
        "limits": {"max_connections": 3},
        "endpoints": [
            endpoint("/small", "echo_handler.py", limits={"max_connections": 2}),
            endpoint("/big", "echo_handler.py"),
        ],
    }
    async with run_server(config, base_dir=base) as server:
        first = await server.connect("/small")
        await server.connect("/small")
        assert await refused_status(server, "/small") == 503
        await server.connect("/big")
        assert await refused_status(server, "/big") == 503
        await first.send("served")
        assert await first.receive() == "served"
        await first.close()
        await eventually(lambda: len(server.hub.connections) == 2)
        again = await server.connect("/small")
        await again.send("a slot was freed")
        assert await again.receive() == "a slot was freed"
        assert await refused_status(server, "/big") == 503
