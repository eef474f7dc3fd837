"""Shared fixtures: handler files written into a temporary project folder."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.yaml"

WriteFile = Callable[[str, str], Path]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A temporary project folder; modules imported from it are forgotten after."""
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        if module is not None and str(tmp_path) in str(getattr(module, "__file__", "") or ""):
            del sys.modules[name]
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))


@pytest.fixture
def write(project: Path) -> WriteFile:
    """Write a dedented file below the project folder and return its path."""

    def write_file(relative: str, text: str) -> Path:
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write_file


@asynccontextmanager
async def killed_on_exit(process: asyncio.subprocess.Process) -> AsyncIterator[None]:
    """Kill ``process`` when the block ends, unless it has already exited."""
    try:
        yield
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def endpoint(pattern: str, handler: str, **options: object) -> dict[str, object]:
    """One endpoint entry of a config mapping."""
    return {"pattern": pattern, "handler": handler, **options}


COMMAND_HANDLER = '''
"""Does what each JSON message says, and acknowledges it with the result."""
EVENTS = []


async def on_connect(conn):
    EVENTS.append(("connect", conn.id))


async def on_message(conn, data):
    op = data.get("op") if isinstance(data, dict) else None
    result = None
    if op == "join":
        conn.join(data["room"])
    elif op == "leave":
        conn.leave(data["room"])
    elif op == "broadcast":
        result = await conn.broadcast(data["data"], rooms=data.get("rooms"),
                                      include_self=data.get("include_self", False))
    elif op == "hub_broadcast":
        result = await conn.hub.broadcast(
            data["data"], rooms=data.get("rooms"), exclude=data.get("exclude"),
            endpoint=data.get("endpoint"))
    elif op == "set_user":
        conn.user_id = data["user"]
    elif op == "send_to_user":
        result = await conn.hub.send_to_user(data["user"], data["data"])
    elif op == "info":
        result = {"id": conn.id, "endpoint": conn.endpoint, "path": conn.path,
                  "params": dict(conn.params), "query": dict(conn.query),
                  "rooms": sorted(conn.rooms), "subprotocol": conn.subprotocol,
                  "hub_rooms": {room: sorted(c.id for c in members)
                                for room, members in conn.hub.rooms.items()},
                  "connections": sorted(conn.hub.connections)}
    elif op == "close":
        await conn.close(data.get("code", 1000), data.get("reason", ""))
        return
    else:
        await conn.send(data)
        return
    await conn.send({"ack": op, "result": result})


async def on_close(conn, code, reason):
    EVENTS.append(("close", conn.id, code, reason, sorted(conn.rooms)))
'''


async def command(client: object, **message: object) -> object:
    """Send one command to COMMAND_HANDLER and return its acknowledged result."""
    await client.send(message)  # type: ignore[attr-defined]
    reply = await client.receive_json()  # type: ignore[attr-defined]
    assert reply["ack"] == message["op"], reply
    return reply["result"]


async def eventually(predicate: Callable[[], Any], timeout: float = 2.0) -> None:
    """Wait until ``predicate()`` is true; fail with TimeoutError after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def handler_module(name: str) -> Any:
    """Return the loaded module whose name ends with ``name`` (a handler under test)."""
    return next(
        m
        for key, m in sys.modules.items()
        if (key == name or key.endswith("." + name)) and not key.startswith("mockws.")
    )


READY_TIMEOUT = 15.0


async def start_serve(
    *args: str, cwd: Path = ROOT, command: str = "serve"
) -> tuple[asyncio.subprocess.Process, list[str]]:
    """Start `mockws serve` (or ``command``) and return it with its lines up to the ready line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockws",
        command,
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(READY_TIMEOUT):
        while not lines or "ready on" not in lines[-1]:
            line = await process.stdout.readline()
            assert line, f"serve exited early: {(await process.stderr.read()).decode()}"  # type: ignore[union-attr]
            lines.append(line.decode().rstrip())
    return process, lines


class SioClient:
    """A python-socketio ``AsyncClient`` that records every event it receives, with timeouts."""

    def __init__(self, namespace: str = "/") -> None:
        import socketio

        self.namespace = namespace
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()
        self.client.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.put_nowait((event, args))

    async def connect(self, url: str, **options: Any) -> SioClient:
        """Connect to ``url`` (``http://host:port``); options go to ``AsyncClient.connect``."""
        options.setdefault("wait_timeout", 5)
        await self.client.connect(url, namespaces=[self.namespace], **options)
        return self

    async def call(self, event: str, *args: Any, timeout: float = 5.0) -> Any:
        """Emit ``event`` and return the server's acknowledgement."""
        return await self.client.call(event, args, namespace=self.namespace, timeout=timeout)

    async def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` without asking for an acknowledgement."""
        await self.client.emit(event, args, namespace=self.namespace)

    async def next_event(self, timeout: float = 5.0) -> tuple[str, tuple[Any, ...]]:
        """Return the next event received, as (name, arguments)."""
        return await asyncio.wait_for(self.events.get(), timeout)

    async def silent(self, window: float = 0.3) -> bool:
        """True when no event arrives within ``window`` seconds."""
        try:
            await asyncio.wait_for(self.events.get(), window)
        except TimeoutError:
            return True
        return False

    async def close(self) -> None:
        """Disconnect (does nothing when not connected)."""
        await self.client.disconnect()


@asynccontextmanager
async def sio_client(url: str, namespace: str = "/", **options: Any) -> AsyncIterator[SioClient]:
    """A connected :class:`SioClient`, disconnected when the block ends."""
    client = SioClient(namespace)
    await client.connect(url, **options)
    try:
        yield client
    finally:
        await client.close()


def sio_base(url: str) -> str:
    """The ``http://host:port`` part of a Socket.IO endpoint's URL."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.partition('/')[0]}"
