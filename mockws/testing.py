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
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
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
from .config.objects import config_as_mapping
from .hub.broker import Broker
from .hub.connection import Connection
from .hub.hub import Hub
from .hub.journal import Direction, Journal, JournalEntry
from .observe.events import ConnectionOpened, Event
from .reload.freshload import reload_module
from .reload.reloader import Reloader, ReloadReport, attach_reloader
from .server.app import MockServer
from .server.tls import client_ssl_context, local_certificate
from .wire.codec import decode_text

__all__ = [
    "DEFAULT_TIMEOUT",
    "JournalEntry",
    "MockClient",
    "ReloadWait",
    "RunningServer",
    "rerun_handler_modules",
    "run_server",
]

_CLOSING = (
    aiohttp.WSMsgType.CLOSE,
    aiohttp.WSMsgType.CLOSING,
    aiohttp.WSMsgType.CLOSED,
    aiohttp.WSMsgType.ERROR,
)

DEFAULT_TIMEOUT = 5.0


class MockClient:
    """A WebSocket client whose every wait has a timeout.

    A background task reads the socket from the start, so ``messages``
    holds everything the server sent, in order, whether or not the test
    has called ``receive`` for it yet. Use it as an async context manager
    to close it at the end of a block.

    Args:
        socket: The open aiohttp client socket.
        timeout: Default seconds to wait in ``receive`` and ``expect_close``.
        parse_json: Default of ``receive``: decode JSON text as the
            endpoint's ``on_message`` would.

    Attributes:
        messages: What the client received, in order: parsed JSON (unless
            ``parse_json`` is off), other text as ``str``, binary as ``bytes``.
    """

    def __init__(
        self, socket: aiohttp.ClientWebSocketResponse, timeout: float, *, parse_json: bool = True
    ) -> None:
        self.socket = socket
        self.timeout = timeout
        self.parse_json = parse_json
        self.messages: list[Any] = []
        self._inbox: asyncio.Queue[aiohttp.WSMessage] = asyncio.Queue()
        self._ended: aiohttp.WSMessage | None = None
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            message = await self.socket.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                self.messages.append(decode_text(message.data, self.parse_json))
            elif message.type is aiohttp.WSMsgType.BINARY:
                self.messages.append(message.data)
            self._inbox.put_nowait(message)
            if message.type in _CLOSING:
                self._ended = message
                return

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
        if self._inbox.empty() and self._ended is not None:
            return self._ended
        return await asyncio.wait_for(self._inbox.get(), timeout or self.timeout)

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

        Messages still arriving before the close are skipped (they stay in
        ``messages``).

        Raises:
            TimeoutError: The server did not close in time.
        """
        async with asyncio.timeout(timeout or self.timeout):
            while True:
                message = await self._next(None)
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
            message = await self._next(within)
        except TimeoutError:
            return
        if message.type in _CLOSING:
            raise AssertionError(f"expected silence, the connection closed ({message.data})")
        raise AssertionError(f"expected no message, got {message.data!r}")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait for the server's answer."""
        await self.socket.close(code=code, message=reason.encode())
        await asyncio.wait({self._reader}, timeout=self.timeout)
        if not self._reader.done():
            self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


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
        *,
        ssl_context: ssl.SSLContext | bool = True,
    ):
        self.server = server
        self._session = session
        self.timeout = timeout
        self.clients: list[MockClient] = []
        self._reloader = reloader
        self.ssl_context = ssl_context
        self.journal = server.hub.journal or Journal()
        server.hub.journal = self.journal
        self._opened: list[Connection] = []
        self._taken_connections: set[str] = set()
        self._taken_messages: set[int] = set()
        self._unsubscribe = server.hub.events.subscribe(self._on_event, messages=False)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ConnectionOpened):
            conn = self.server.hub.get(event.conn_id)
            if conn is not None:
                self._opened.append(conn)
            self.journal.notify()

    def stop_listening(self) -> None:
        """Stop following the server's connection events (``run_server`` calls it at the end)."""
        self._unsubscribe()

    def messages(
        self,
        conn_id: str | None = None,
        endpoint: str | None = None,
        *,
        direction: Direction | None = None,
    ) -> list[JournalEntry]:
        """Return every message in and out of the server's connections, in order.

        Args:
            conn_id: Only this connection's.
            endpoint: Only connections of this endpoint (its pattern as configured).
            direction: ``"in"`` (from clients) or ``"out"`` (to them); None for both.

        Each :class:`~mockws.hub.journal.JournalEntry` has ``conn_id``,
        ``endpoint``, ``direction``, ``data`` (as ``on_message`` gets it, or
        as the client decodes it), ``time`` and ``seq``.
        """
        return [
            entry
            for entry in self.journal.entries
            if (conn_id is None or entry.conn_id == conn_id)
            and (endpoint is None or entry.endpoint == endpoint)
            and (direction is None or entry.direction == direction)
        ]

    async def expect_message(
        self,
        match: Callable[[Any], bool] | Mapping[str, Any] | Any,
        *,
        timeout: float | None = None,
        conn_id: str | None = None,
        endpoint: str | None = None,
        direction: Direction = "in",
    ) -> JournalEntry:
        """Wait for a message the server received (``direction="out"``: sent) that matches.

        ``match`` is a predicate called with the message's data, a dict that
        must be a subset of the message (nested dicts too), or any other value
        the data must equal. Messages already in the journal count; each one
        is returned by one ``expect_message`` only, so two calls in a row
        expect two messages.

        Raises:
            TimeoutError: No such message within ``timeout`` seconds; the
                error lists what did arrive.
        """

        def find() -> JournalEntry | None:
            for entry in self.messages(conn_id, endpoint, direction=direction):
                if entry.seq not in self._taken_messages and _matches(entry.data, match):
                    self._taken_messages.add(entry.seq)
                    return entry
            return None

        wait = timeout or self.timeout
        try:
            found: JournalEntry = await self.journal.wait(find, wait)
        except TimeoutError:
            seen = [entry.data for entry in self.messages(conn_id, endpoint, direction=direction)]
            raise TimeoutError(
                f"no {direction!r} message matching {match!r} within {wait}s; "
                f"{len(seen)} seen: {seen[-10:]!r}"
            ) from None
        return found

    async def connected(
        self, endpoint: str | None = None, timeout: float | None = None
    ) -> Connection:
        """Wait for a connection to ``endpoint`` (a pattern or a path; None: any) and return it.

        Connections already made count; each is returned by one ``connected``
        only, in the order they connected, so a test can wait for a browser
        page's second socket after its first.

        Raises:
            TimeoutError: None connected within ``timeout`` seconds.
        """

        def find() -> Connection | None:
            for conn in self._opened:
                wanted = endpoint is None or endpoint in (conn.endpoint, conn.path)
                if wanted and conn.id not in self._taken_connections:
                    self._taken_connections.add(conn.id)
                    return conn
            return None

        wait = timeout or self.timeout
        try:
            found: Connection = await self.journal.wait(find, wait)
        except TimeoutError:
            where = endpoint or "any endpoint"
            raise TimeoutError(f"no connection to {where} within {wait}s") from None
        return found

    async def reset(self, *, fresh_modules: bool = False) -> None:
        """Start over: close every client and connection, forget the journal.

        With ``fresh_modules`` the handler modules also run anew from their
        source, so their module-level state (dicts, counters) starts empty
        and their ``background`` tasks restart.
        """
        await self.close_clients()
        self.clients.clear()
        closing = [conn.close(1000, "Reset") for conn in list(self.hub.connections.values())]
        await asyncio.gather(*closing, return_exceptions=True)
        async with asyncio.timeout(self.timeout):
            while self.hub.connections:
                await asyncio.sleep(0.01)
        self.journal.clear()
        self._opened.clear()
        self._taken_connections.clear()
        self._taken_messages.clear()
        if fresh_modules:
            await rerun_handler_modules(self.server)

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
        """Return the ``ws://`` (``wss://``) URL of ``path`` (after the prefix) with ``query``."""
        url = self.server.url(path)
        return f"{url}?{urlencode(query)}" if query else url

    def http_url(self, path: str = "/") -> str:
        """Return the ``http(s)://`` URL of ``path`` on this server (``/__mockws/api/...``)."""
        return self.server.http_url(path)

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
            **{"ssl": self.ssl_context, **options},
        )
        client = MockClient(socket, timeout or self.timeout, parse_json=self._parse_json(path))
        self.clients.append(client)
        return client

    async def close_clients(self) -> None:
        """Close every client this server's ``connect`` opened."""
        await asyncio.gather(*(client.close() for client in self.clients))


def _matches(data: Any, expected: Any) -> bool:
    """Tell whether ``data`` matches a predicate, a subset mapping or an equal value."""
    if callable(expected):
        return bool(expected(data))
    if isinstance(expected, Mapping):
        return isinstance(data, Mapping) and all(
            key in data and _matches(data[key], value) for key, value in expected.items()
        )
    return bool(data == expected)


async def rerun_handler_modules(server: MockServer) -> None:
    """Run every handler module of ``server`` anew from its source and restart its background."""
    for slot in server.handler_slots():
        slot.swap(reload_module(slot.module.__name__, slot.module))
        await server.restart_background(slot)


def _as_config(config: Config | Mapping[str, Any] | str | Path, base_dir: Path | None) -> Config:
    if isinstance(config, Config):
        if config.validated:
            return config  # built by mockws.config.load: validated then
        # Built by hand: validated like a dict, since the dataclasses take any value.
        return config_from_mapping(config_as_mapping(config), base_dir=base_dir or config.base_dir)
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
    tls: bool = False,
    fresh_modules: bool = False,
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
        tls: Serve wss:// and https:// with the local CA's localhost
            certificate (as ``mockws serve --tls``); the clients trust it.
            A config's own ``tls`` is served too, its certificate unchecked.
        fresh_modules: Run the handler modules anew from source for this
            server, so no module-level state is left from an earlier one.
    """
    resolved = replace(_as_config(config, base_dir), host="127.0.0.1", port=0, reload=reload)
    ssl_context: ssl.SSLContext | bool = True
    if tls and resolved.tls is None:
        local = local_certificate()
        resolved = replace(resolved, tls=local.tls)
        ssl_context = client_ssl_context(local.ca)
    elif resolved.tls is not None:
        ssl_context = False
    server = MockServer(resolved, log_messages=log_messages, broker=broker)
    server.hub.journal = Journal()
    attach_admin(server)
    reloader = attach_reloader(server) if reload else None
    await server.start()
    try:
        if fresh_modules:
            await rerun_handler_modules(server)
        connector = aiohttp.TCPConnector(ssl=ssl_context)
        async with aiohttp.ClientSession(connector=connector) as session:
            running = RunningServer(server, session, timeout, reloader, ssl_context=ssl_context)
            try:
                yield running
            finally:
                await running.close_clients()
                running.stop_listening()
    finally:
        await server.stop()
