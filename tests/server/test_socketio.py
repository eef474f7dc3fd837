"""Socket.IO endpoints on mockws's app (mockws/server/socketio.py): routing, origins, limits."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from mockws.config.load import config_from_mapping
from mockws.server.endpoints import load_endpoints
from mockws.testing import run_server

from ..helpers import SioClient, WriteFile, endpoint, sio_base, sio_client

HANDLER = """
async def on_where(conn):
    return {"params": dict(conn.params), "path": conn.path, "query": dict(conn.query)}
"""


def sio(pattern: str, **options: Any) -> dict[str, Any]:
    return endpoint(pattern, "where.py", protocol="socket.io", heartbeat=1, **options)


async def test_prefix_and_pattern_parameters(write: WriteFile, project: Path) -> None:
    """The prefix applies; {name} in a Socket.IO path gives conn.params; EIO's query is hidden."""
    write("where.py", HANDLER)
    config = {"port": 0, "prefix": "/api", "endpoints": [sio("/t/{tenant}/socket.io/")]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/t/{tenant}/socket.io/"))
        assert running.server.url("/t/{tenant}/socket.io/").startswith("http://")
        async with sio_client(f"{url}?x=1", socketio_path="/api/t/acme/socket.io") as client:
            where = await client.call("where")
    assert where == {
        "params": {"tenant": "acme"},
        "path": "/api/t/acme/socket.io/",
        "query": {"x": "1"},
    }


async def test_http_answers_on_socketio_and_websocket_paths(
    write: WriteFile, project: Path
) -> None:
    """Engine.IO answers its own path; other methods on WebSocket endpoints are 405."""
    write("where.py", HANDLER)
    config = {"port": 0, "endpoints": [sio("/socket.io/"), endpoint("/ws", "where.py")]}
    async with run_server(config, base_dir=project) as running, aiohttp.ClientSession() as http:
        base = running.http_url("/")
        async with http.get(f"{base}socket.io/") as response:
            assert response.status == 400  # no EIO=4: Engine.IO refuses it
        async with http.get(f"{base}socket.io/?EIO=4&transport=polling") as response:
            assert response.status == 200
            assert (await response.text()).startswith('0{"sid":')
        async with http.get(f"{base}socket.io?EIO=4&transport=polling") as response:
            assert response.status == 200  # without the trailing slash too
        async with http.post(f"{base}ws", data="x") as response:
            assert response.status == 405
        async with http.post(f"{base}nowhere", data="x") as response:
            assert response.status == 405
        async with http.get(f"{base}ws/") as response:
            assert response.status == 404  # a WebSocket pattern takes no trailing slash


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("http://localhost:5173", True), ("http://evil.example", False), (None, True)],
)
async def test_origins_follow_allowed_origins(
    write: WriteFile, project: Path, origin: str | None, allowed: bool
) -> None:
    """Engine.IO checks Origin against allowed_origins (loopback by default) and answers CORS."""
    write("where.py", HANDLER)
    config = {"port": 0, "endpoints": [sio("/socket.io/")]}
    headers = {"Origin": origin} if origin else {}
    async with run_server(config, base_dir=project) as running, aiohttp.ClientSession() as http:
        url = running.http_url("/socket.io/?EIO=4&transport=polling")
        async with http.get(url, headers=headers) as response:
            assert (response.status == 200) is allowed
            if origin and allowed:
                assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_max_connections_refuses_with_connect_error(write: WriteFile, project: Path) -> None:
    """limits.max_connections counts namespace connections; one more is refused."""
    write("where.py", HANDLER)
    config = {"port": 0, "endpoints": [sio("/socket.io/", limits={"max_connections": 1})]}
    async with run_server(config, base_dir=project) as running:
        url = sio_base(running.server.url("/socket.io/"))
        async with sio_client(url):
            errors: list[Any] = []
            client = socketio.AsyncClient(reconnection=False)
            client.on("connect_error", errors.append)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(url, wait_timeout=5)
            assert errors == [{"message": "Too many connections", "data": {"code": 1013}}]
        # Released on disconnect: a new client fits again.
        second = await SioClient().connect(url)
        await second.close()


async def test_servers_are_kept_by_pattern_across_reloads(write: WriteFile, project: Path) -> None:
    """SocketIoServers.sync keeps a pattern's server, swaps its endpoint, drops removed ones."""
    write("where.py", HANDLER)
    data = {"port": 0, "endpoints": [sio("/socket.io/"), sio("/two/")]}
    async with run_server(data, base_dir=project) as running:
        servers = running.server.socketio_servers
        assert servers is not None
        first = {e.pattern: servers.get(e) for e in running.server.endpoints}
        url = sio_base(running.server.url("/socket.io/"))
        client = await SioClient().connect(url)  # makes the first one's AsyncServer
        assert first["/socket.io/"] is not None and first["/socket.io/"].started
        assert first["/two/"] is not None and not first["/two/"].started
        edited = {"port": 0, "endpoints": [sio("/socket.io/", namespaces=["/", "/x"])]}
        await running.server.apply_config(config_from_mapping(edited, base_dir=project))
        now = running.server.endpoints[0]
        assert servers.get(now) is first["/socket.io/"]
        assert first["/socket.io/"] is not None and first["/socket.io/"].sio.namespaces == [
            "/",
            "/x",
        ]
        stale = load_endpoints(config_from_mapping(data, base_dir=project))[1]
        assert servers.get(stale) is None
        assert client.client.connected
        await client.close()


LAZY = """
import asyncio, sys
from pathlib import Path
import aiohttp
from mockws.testing import run_server

async def main():
    config = {"port": 0, "endpoints": [
        {"pattern": "/socket.io/", "protocol": "socket.io", "handler": "where.py"}]}
    async with run_server(config, base_dir=Path(sys.argv[1])) as running:
        print("socketio" in sys.modules)
        async with aiohttp.ClientSession() as http:
            async with http.get(running.http_url("/socket.io/?EIO=4&transport=polling")) as r:
                print(r.status, "socketio" in sys.modules)

asyncio.run(main())
"""


async def test_python_socketio_loads_at_the_first_request(write: WriteFile, project: Path) -> None:
    """A server with a Socket.IO endpoint starts without importing python-socketio."""
    write("where.py", HANDLER)
    script = write("lazy.py", LAZY)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        str(project),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().split() == ["False", "200", "True"]
