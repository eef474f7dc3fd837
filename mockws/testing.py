"""Helpers to test a mock: run a server in-process and talk to it.

Example::

    async with run_server("mockws.yaml") as server:
        client = await server.connect("/ws/chat")
        await client.send({"type": "join", "room": "lobby"})
        assert (await client.receive_json())["type"] == "joined"

With pytest, the ``mockws_server`` fixture (:mod:`mockws.pytest_plugin`)
does the ``run_server`` part.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from .admin import attach_admin
from .config.durations import parse_duration_range
from .config.faults import ConnectionFault, FaultsConfig
from .config.load import config_from_mapping, load_config
from .config.model import Config
from .hub.broker import Broker
from .hub.connection import Connection
from .hub.hub import Hub
from .reload.reloader import Reloader, ReloadReport, attach_reloader
from .server.app import MockServer
from .server.urls import url_host
from .wire.codec import decode_text

__all__ = ["DEFAULT_TIMEOUT", "MockClient", "ReloadWait", "RunningServer", "run_server"]

_CLOSING = (
    aiohttp.WSMsgType.CLOSE,
    aiohttp.WSMsgType.CLOSING,
    aiohttp.WSMsgType.CLOSED,
    aiohttp.WSMsgType.ERROR,
)

DEFAULT_TIMEOUT = 5.0


class MockClient:
    """A WebSocket client whose every wait has a timeout.

    Use it as an async context manager to close it at the end of a block.

    Args:
        socket: The open aiohttp client socket.
        timeout: Default seconds to wait in ``receive`` and ``expect_close``.
        parse_json: Default of ``receive``: decode JSON text as the
            endpoint's ``on_message`` would.
    """

    def __init__(
        self, socket: aiohttp.ClientWebSocketResponse, timeout: float, *, parse_json: bool = True
    ) -> None:
        self.socket = socket
        self.timeout = timeout
        self.parse_json = parse_json

    async def __aenter__(self) -> MockClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once the socket is closed."""
        return self.socket.closed

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, if any."""
        return self.socket.protocol

    async def send(self, data: Any) -> None:
        """Send str as text, bytes as binary, anything else as JSON text."""
        if isinstance(data, str):
            await self.socket.send_str(data)
        elif isinstance(data, (bytes, bytearray)):
            await self.socket.send_bytes(bytes(data))
        else:
            await self.socket.send_str(json.dumps(data))

    async def _next(self, timeout: float | None) -> aiohttp.WSMessage:
        return await asyncio.wait_for(self.socket.receive(), timeout or self.timeout)

    async def receive(self, timeout: float | None = None, *, parse_json: bool | None = None) -> Any:
        """Return the next message, decoded as ``on_message`` decodes it.

        JSON text comes parsed (unless the endpoint sets ``parse_json: false``
        or ``parse_json=False`` is passed), other text as ``str``, binary as
        ``bytes``.

        Raises:
            TimeoutError: Nothing arrived in time.
            ConnectionError: The server closed the connection instead.
        """
        message = await self._next(timeout)
        if message.type is aiohttp.WSMsgType.TEXT:
            return decode_text(message.data, self.parse_json if parse_json is None else parse_json)
        if message.type is aiohttp.WSMsgType.BINARY:
            return message.data
        raise ConnectionError(
            f"expected a message, the connection closed with {self.socket.close_code} "
            f"{message.extra or ''}".rstrip()
        )

    async def receive_json(self, timeout: float | None = None) -> Any:
        """Return the next message parsed as JSON.

        Raises:
            ValueError: The message is not JSON text.
        """
        message = await self._next(timeout)
        if message.type is not aiohttp.WSMsgType.TEXT:
            raise ValueError(f"expected a JSON text message, got {message.type.name}")
        return json.loads(message.data)

    async def expect_close(self, timeout: float | None = None) -> tuple[int | None, str]:
        """Wait for the server to close; return its close code and reason.

        Messages still arriving before the close are discarded.

        Raises:
            TimeoutError: The server did not close in time.
        """
        async with asyncio.timeout(timeout or self.timeout):
            while True:
                message = await self.socket.receive()
                if message.type in _CLOSING:
                    if message.type is aiohttp.WSMsgType.CLOSE:
                        return int(message.data), str(message.extra or "")
                    return self.socket.close_code, ""

    async def expect_no_message(self, within: float = 0.2) -> None:
        """Assert that no message arrives for ``within`` seconds.

        Raises:
            AssertionError: A message arrived (it is named in the error) or
                the connection closed.
        """
        try:
            message = await asyncio.wait_for(self.socket.receive(), within)
        except TimeoutError:
            return
        if message.type in _CLOSING:
            raise AssertionError(f"expected silence, the connection closed ({message.data})")
        raise AssertionError(f"expected no message, got {message.data!r}")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait for the server's answer."""
        await self.socket.close(code=code, message=reason.encode())


@dataclass
class ReloadWait:
    """Filled in by :meth:`RunningServer.reloaded` when the reload is done.

    Attributes:
        report: What the reload did.
    """

    report: ReloadReport | None = None


class RunningServer:
    """A server started by :func:`run_server`, with a way to connect to it."""

    def __init__(
        self,
        server: MockServer,
        session: aiohttp.ClientSession,
        timeout: float,
        reloader: Reloader | None = None,
    ):
        self.server = server
        self._session = session
        self.timeout = timeout
        self.clients: list[MockClient] = []
        self._reloader = reloader

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.server.port

    @property
    def hub(self) -> Hub:
        """The server's hub, for asserting on connections and rooms."""
        return self.server.hub

    @property
    def reloader(self) -> Reloader:
        """The server's reloader (the server must run with ``reload=True``)."""
        if self._reloader is None:
            raise RuntimeError("this server does not reload: use run_server(..., reload=True)")
        return self._reloader

    @asynccontextmanager
    async def reloaded(self, timeout: float | None = None) -> AsyncIterator[ReloadWait]:
        """Wait, at the end of the block, for the reload its file edits cause.

        Example::

            async with server.reloaded() as done:
                (project / "handlers/chat.py").write_text(NEW_CODE)
            assert done.report.ok

        Raises:
            TimeoutError: No reload finished in time.
        """
        reloader = self.reloader
        expected = reloader.generation + 1
        wait = ReloadWait()
        yield wait
        wait.report = await reloader.wait_for(expected, timeout or self.timeout)

    async def fault(
        self,
        conn: str | Connection,
        *,
        abort: bool = False,
        stall: bool = False,
        close: int | tuple[int, str] | None = None,
        latency: str | float | tuple[str | float, str | float] | None = None,
        drop: float | None = None,
    ) -> list[str]:
        """Inject a fault into one open connection, as ``POST api/connections/{id}/fault`` does.

        Args:
            conn: The connection or its id.
            abort: Drop it with a TCP reset, no close frame (a browser sees 1006).
            stall: Stop writing to it and answering its pings.
            close: Close it with this code (or ``(code, reason)``).
            latency: Its outgoing latency from now on: ``"200ms"``, seconds,
                or a ``(low, high)`` range; 0 removes it.
            drop: Its drop probability from now on.

        Returns:
            What was done, in words.
        """
        conn_id = conn.id if isinstance(conn, Connection) else conn
        closing = (close, "") if isinstance(close, int) else close
        fault = ConnectionFault(
            abort=abort,
            stall=stall,
            close=closing,
            latency=None if latency is None else parse_duration_range(latency),
            drop=drop,
        )
        return await self.server.fault(conn_id, fault)

    def set_faults(
        self, endpoint: str, faults: FaultsConfig | Mapping[str, Any] | None
    ) -> FaultsConfig | None:
        """Replace the faults of the endpoint with pattern ``endpoint`` until its next config edit.

        ``faults`` has the config's shape (``{"latency": "50ms", "drop": 0.1}``);
        None removes them. See :meth:`MockServer.set_faults`.
        """
        return self.server.set_faults(endpoint, faults)

    def url(self, path: str, **query: str) -> str:
        """Return the ``ws://`` URL of ``path`` (after the prefix) with ``query``."""
        url = self.server.url(path)
        return f"{url}?{urlencode(query)}" if query else url

    def http_url(self, path: str = "/") -> str:
        """Return the ``http://`` URL of ``path`` on this server (``/__mockws/api/rooms``...)."""
        return f"http://{url_host(self.server.config.host)}:{self.port}{path}"

    def _parse_json(self, path: str) -> bool:
        match = self.server.router.match(self.server.router.prefix + path.partition("?")[0])
        return match.target.config.parse_json if match is not None else True

    async def connect(
        self,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        protocols: tuple[str, ...] = (),
        timeout: float | None = None,
        **options: Any,
    ) -> MockClient:
        """Open a WebSocket to ``path`` and return its client.

        Extra keyword options go to aiohttp's ``ws_connect`` (``autoping``,
        ``compress``, ``max_msg_size``...).
        """
        socket = await self._session.ws_connect(
            self.url(path, **dict(query or {})),
            headers=headers,
            protocols=protocols,
            timeout=aiohttp.ClientWSTimeout(ws_close=timeout or self.timeout),
            **options,
        )
        client = MockClient(socket, timeout or self.timeout, parse_json=self._parse_json(path))
        self.clients.append(client)
        return client

    async def close_clients(self) -> None:
        """Close every client this server's ``connect`` opened."""
        await asyncio.gather(*(client.socket.close() for client in self.clients))


def _as_config(config: Config | Mapping[str, Any] | str | Path, base_dir: Path | None) -> Config:
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return config_from_mapping(config, base_dir=base_dir)
    return load_config(config)


@asynccontextmanager
async def run_server(
    config: Config | Mapping[str, Any] | str | Path,
    *,
    base_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    reload: bool = False,
    log_messages: bool = False,
    broker: Broker | None = None,
) -> AsyncIterator[RunningServer]:
    """Start a server on a free loopback port for the duration of the block.

    Args:
        config: A Config, a mapping of the config's shape, or a config path.
        base_dir: Where a mapping's relative handler paths resolve.
        timeout: Default wait of every client operation, in seconds.
        reload: Watch the handler files (and the config file) and reload
            them in place, as ``mockws serve`` does; off by default.
        log_messages: Log every message in and out (``mockws.message`` logger).
        broker: The hub's broker (see :mod:`mockws.hub.broker`); in-process by default.
    """
    resolved = replace(_as_config(config, base_dir), host="127.0.0.1", port=0, reload=reload)
    server = MockServer(resolved, log_messages=log_messages, broker=broker)
    attach_admin(server)
    reloader = attach_reloader(server) if reload else None
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            running = RunningServer(server, session, timeout, reloader)
            try:
                yield running
            finally:
                await running.close_clients()
    finally:
        await server.stop()
