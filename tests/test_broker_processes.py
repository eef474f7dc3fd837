"""Several `mockws serve` processes on one real redis-server: rooms, users and workers.

Functional tests over real processes and sockets: two independent serves on
one broker, and `mockws serve --workers 2` on one port.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from .helpers import COMMAND_HANDLER, WriteFile, eventually, killed_on_exit, start_serve
from .redisserver import RedisServer

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity"), reason="SO_REUSEPORT workers need Linux"
)

WAIT = 10.0


def write_project(write: WriteFile, redis: RedisServer, reload: bool = False) -> Path:
    write("handlers/commands.py", COMMAND_HANDLER)
    return write(
        "mockws.yaml",
        f"""
        port: 0
        reload: {str(reload).lower()}
        broker: {{url: "{redis.url}", expiry: 1s}}
        endpoints:
          - pattern: /ws
            handler: handlers/commands.py
        """,
    )


def ready_port(lines: list[str]) -> int:
    found = re.search(r"ready on [\d.]+:(\d+)", lines[-1])
    assert found, lines
    return int(found.group(1))


class Client:
    """A COMMAND_HANDLER client over aiohttp."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket

    async def receive(self) -> Any:
        message = await self.socket.receive(timeout=WAIT)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data) if message.data[:1] in "{[" else message.data

    async def command(self, **message: Any) -> Any:
        await self.socket.send_json(message)
        reply = await self.receive()
        assert reply["ack"] == message["op"], reply
        return reply["result"]

    async def no_message(self, within: float = 0.3) -> None:
        with pytest.raises(asyncio.TimeoutError):
            message = await self.socket.receive(timeout=within)
            pytest.fail(f"unexpected {message}")

    async def closed(self) -> int | None:
        """Read until the close frame (or the drop) and return the close code."""
        async with asyncio.timeout(WAIT):
            while True:
                message = await self.socket.receive()
                if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    return self.socket.close_code
                if message.type is aiohttp.WSMsgType.ERROR:
                    return None


@asynccontextmanager
async def clients(port: int, count: int, room: str = "r") -> AsyncIterator[list[Client]]:
    async with aiohttp.ClientSession() as session:
        made = []
        for _ in range(count):
            client = Client(await session.ws_connect(f"http://127.0.0.1:{port}/ws"))
            await client.command(op="join", room=room)
            made.append(client)
        yield made


async def api(port: int, path: str) -> Any:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/__mockws/api/{path}") as response:
            assert response.status == 200
            return await response.json()


async def room_members(port: int, room: str = "r") -> set[str]:
    rooms = (await api(port, "rooms"))["rooms"]
    return next((set(entry["members"]) for entry in rooms if entry["name"] == room), set())


async def wait_for(predicate: Any, timeout: float = WAIT) -> None:
    """Wait until the coroutine function ``predicate()`` returns true."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_two_serves_share_rooms_users_and_a_killed_ones_rooms_expire(
    write: WriteFile, redis_server: RedisServer
) -> None:
    """Broadcasts cross both ways exactly once, send_to_user too; a killed serve's rooms go."""
    config = write_project(write, redis_server)
    async with AsyncExitStack() as stack:
        ports = []
        processes = []
        for _ in range(2):
            process, lines = await start_serve("--config", str(config), cwd=config.parent)
            await stack.enter_async_context(killed_on_exit(process))
            processes.append(process)
            ports.append(ready_port(lines))
        (ann,) = await stack.enter_async_context(clients(ports[0], 1))
        (bob,) = await stack.enter_async_context(clients(ports[1], 1))
        ann_id = (await ann.command(op="info"))["id"]
        bob_id = (await bob.command(op="info"))["id"]
        await wait_for(lambda: _members_are(ports[0], {ann_id, bob_id}))

        assert await ann.command(op="broadcast", data="from ann", rooms=["r"]) == 0
        assert await bob.receive() == "from ann"
        assert await bob.command(op="broadcast", data="from bob", rooms=["r"]) == 0
        assert await ann.receive() == "from bob"
        await bob.command(op="set_user", user="bob")
        # The registry is written after the subscriptions: once it shows the user, it is reachable.
        await wait_for(lambda: _user_listed(ports[0], bob_id, "bob"))
        assert await ann.command(op="send_to_user", user="bob", data="hi bob") == 0
        assert await bob.receive() == "hi bob"
        await ann.no_message()
        await bob.no_message(0.1)

        processes[1].kill()
        await processes[1].wait()
        # expiry: 1s in the config; the survivor lists only its own member after it.
        await wait_for(lambda: _members_are(ports[0], {ann_id}), timeout=8)


async def _members_are(port: int, expected: set[str]) -> bool:
    return await room_members(port) == expected


async def _user_listed(port: int, conn_id: str, user: str) -> bool:
    views = (await api(port, "connections"))["connections"]
    return any(view["id"] == conn_id and view["user"] == user for view in views)


def worker_pids(parent: int) -> list[int]:
    """The pids of the worker processes the `serve --workers` parent started."""
    with open(f"/proc/{parent}/task/{parent}/children") as children:
        return [int(pid) for pid in children.read().split()]


async def test_workers_share_one_port_restart_and_stop_with_1001(
    write: WriteFile, redis_server: RedisServer
) -> None:
    """--workers 2: clients spread over both, one broadcast reaches each once, a killed
    worker is restarted and logged and its rooms expire, SIGTERM closes the rest with 1001."""
    config = write_project(write, redis_server)
    process, lines = await start_serve("--config", str(config), "--workers", "2", cwd=config.parent)
    assert "with 2 workers" in lines[-1]
    assert any("ws://127.0.0.1" in line and "/ws" in line for line in lines[:-1])
    port = ready_port(lines)
    log_lines: list[str] = []

    async def read_log() -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            log_lines.append(line.decode(errors="replace"))

    reader = asyncio.create_task(read_log())
    async with killed_on_exit(process), clients(port, 16) as members:
        ids = [(await client.command(op="info"))["id"] for client in members]
        workers = {conn_id.split("-")[0] for conn_id in ids}
        assert workers == {"w1", "w2"}, ids
        await wait_for(lambda: _members_are(port, set(ids)))

        same_worker = sum(1 for conn_id in ids if conn_id.split("-")[0] == ids[0].split("-")[0])
        reached = await members[0].command(op="broadcast", data="all of r", rooms=["r"])
        assert reached == same_worker - 1
        for client in members[1:]:
            assert await client.receive() == "all of r"
        for client in members:
            await client.no_message(0.05)

        victim = worker_pids(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        gone = await asyncio.gather(*(_dropped(client) for client in members))
        dropped = [
            (conn_id, client)
            for conn_id, client, lost in zip(ids, members, gone, strict=True)
            if lost
        ]
        assert dropped and len(dropped) < len(members)
        dead_worker = {conn_id.split("-")[0] for conn_id, _ in dropped}
        assert len(dead_worker) == 1
        alive = [(i, c) for i, c in zip(ids, members, strict=True) if (i, c) not in dropped]
        await wait_for(lambda: _members_are(port, {conn_id for conn_id, _ in alive}), timeout=8)
        await eventually(lambda: any(" is back" in line for line in log_lines), timeout=20)
        assert len(worker_pids(process.pid)) == 2

        process.send_signal(signal.SIGTERM)
        codes = [await client.closed() for _, client in alive]
        assert codes == [1001] * len(alive)
        async with asyncio.timeout(15):
            assert await process.wait() == 0
    await reader
    log = "".join(log_lines)
    index = next(iter(dead_worker))[1:]
    assert re.search(rf"worker {index} \(pid {victim}\) exited with signal SIGKILL", log), log
    assert f"worker {index} is back" in log


async def _dropped(client: Client) -> bool:
    """True when the client's worker went away: its socket closes without a close frame."""
    try:
        message = await client.socket.receive(timeout=2.0)
    except TimeoutError:
        return False
    return message.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    )


async def test_hot_reload_reaches_every_worker(write: WriteFile, redis_server: RedisServer) -> None:
    """Editing the handler changes what clients on both workers get."""
    config = write_project(write, redis_server, reload=True)
    process, lines = await start_serve("--config", str(config), "--workers", "2", cwd=config.parent)
    port = ready_port(lines)
    async with killed_on_exit(process), clients(port, 12) as members:
        ids = [(await client.command(op="info"))["id"] for client in members]
        assert {conn_id.split("-")[0] for conn_id in ids} == {"w1", "w2"}
        await asyncio.sleep(0.5)  # the watchers' first scan
        write(
            "handlers/commands.py",
            COMMAND_HANDLER.replace(
                "        await conn.send(data)\n        return\n",
                "        await conn.send({'v2': data})\n        return\n",
            ),
        )

        async def all_reloaded() -> bool:
            for client in members:
                await client.socket.send_json({"echo": 1})
                if await client.receive() != {"v2": {"echo": 1}}:
                    return False
            return True

        await wait_for(all_reloaded, timeout=15)
