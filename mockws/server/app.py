"""The aiohttp application that serves every configured endpoint: :class:`MockServer`.

The server knows nothing of the inspector or of hot reload: whoever starts
it (the CLI, ``mockws.testing``) attaches them through :meth:`MockServer.add_routes`
and the ``on_started`` / ``on_stopping`` callbacks, as aiohttp's own
signals do.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..config.faults import ConnectionFault, FaultsConfig, faults_from_data
from ..config.model import Config
from ..hooks.loader import HandlerSlot, SysPathLease
from ..hooks.rules import RuleBook
from ..hooks.timer import HookTimer
from ..hub.broker import Broker, Cluster
from ..hub.connection import Connection
from ..hub.hub import Hub
from ..observe.eventlog import EventLogger
from ..observe.events import FaultInjected
from ..observe.logging import access_logger_for
from ..observe.redact import SECRET_QUERY_PARAMS
from ..wire.close import CloseCode
from ..wire.outbox import FlushScheduler
from . import aiohttp_compat as compat
from .background import BackgroundTasks
from .endpoints import Endpoint, load_endpoints
from .handshake import Handshake
from .home import home_page
from .http_routes import HttpRoute, HttpRoutes, load_http_routes
from .http_serve import HttpFront
from .listener import close_refused_upgrades, listen
from .reconfig import ConfigChange, plan_reconfig, route_changes, unique_slots
from .router import Router
from .session import serve_connection
from .tls import server_ssl_context
from .urls import url_host

if TYPE_CHECKING:
    from .socketio import SocketIoEndpoint, SocketIoServers

__all__ = ["CLOSE_WAIT", "SHUTDOWN_GRACE", "MockServer", "RouteInstaller"]

log = logging.getLogger("mockws.server")

SHUTDOWN_GRACE = 5.0
# How long a config reload waits for closing clients to answer their close frame.
CLOSE_WAIT = 1.0

RouteInstaller = Callable[[web.Application], None]
Callback = Callable[[], Awaitable[None]]


def _asks_upgrade(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


class MockServer:
    """Serves a config's endpoints on one port.

    Args:
        config: A validated config.
        log_messages: Log one line per message in and out, not only per
            connection event.
        broker: Carries broadcasts between processes; by default the
            config's ``broker:`` (Redis), else in-process.
        reuse_port: Bind with SO_REUSEPORT, so that several processes
            share the port (``mockws serve --workers``).

    Attributes:
        on_started: Awaited, in order, once the port is bound (the reloader
            starts here).
        on_stopping: Awaited, in order, before the connections are closed.
    """

    def __init__(
        self,
        config: Config,
        *,
        log_messages: bool = False,
        broker: Broker | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.config = config
        if broker is None and config.broker is not None:
            from ..hub.redis_broker import RedisBroker  # redis loads only for a broker config

            broker = RedisBroker.from_config(config.broker)
        self.hub = Hub(broker)
        # Ids unique across the processes that share a broker: the node name first.
        self._id_prefix = f"{broker.node}-" if isinstance(broker, Cluster) else ""
        self._reuse_port = reuse_port
        EventLogger(log_messages=log_messages).attach(self.hub.events)
        self.slots: dict[str, HandlerSlot] = {}
        # Declarative rules by pattern, kept across config reloads like slots.
        self.books: dict[str, RuleBook] = {}
        self.endpoints: list[Endpoint] = []
        self.router: Router[Endpoint] = Router(config.prefix, ())
        self.http = HttpFront(self.hub)
        self.port: int = config.port
        self.timer = HookTimer(config.limits.slow_hook_warning)
        self.background = BackgroundTasks(self.hub)
        self.on_started: list[Callback] = []
        self.on_stopping: list[Callback] = []
        self._route_installers: list[RouteInstaller] = []
        self._ids = itertools.count(1)
        self._sessions: set[asyncio.Task[object]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._handshake = Handshake(self.hub.events)
        self._scheduler: FlushScheduler | None = None
        self._path = SysPathLease(config.base_dir)
        self._secret_params: set[str] = set()
        self._home_links: list[tuple[str, str]] = []
        self._retired_socketio: list[SocketIoEndpoint] = []
        # Socket.IO endpoints' servers; python-socketio loads only for a config that has one.
        self._socketio: SocketIoServers | None = None

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` has begun."""
        return self._handshake.stopping

    @property
    def socketio_servers(self) -> SocketIoServers | None:
        """The Socket.IO endpoints' servers; None until a config has such an endpoint."""
        return self._socketio

    def add_routes(self, installer: RouteInstaller) -> None:
        """Have ``installer(app)`` add its routes before the catch-all endpoint route.

        Call it before :meth:`start` (the admin routes come in this way).
        """
        self._route_installers.append(installer)

    def add_home_link(self, label: str, path: str) -> None:
        """List ``path`` on the page ``GET /`` answers (the admin adds the inspector)."""
        self._home_links.append((label, path))

    def build_app(self) -> web.Application:
        """Return the aiohttp application: the added routes, then one catch-all route."""
        app = web.Application()
        app.on_response_prepare.append(close_refused_upgrades)
        for installer in self._route_installers:
            installer(app)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def handler_slots(self) -> list[HandlerSlot]:
        """Return the handler modules the endpoints use now, each once."""
        return unique_slots(self.endpoints)

    def _install(self, config: Config, endpoints: Iterable[Endpoint], routes: HttpRoutes) -> None:
        endpoints = list(endpoints)
        router = Router(
            config.prefix, ((endpoint.config.route_pattern, endpoint) for endpoint in endpoints)
        )
        self.config, self.endpoints, self.router = config, endpoints, router
        self.timer.threshold = config.limits.slow_hook_warning
        # Only ever added to: a request logged after a reload may still carry an old one.
        self._secret_params.update(e.secret_param for e in endpoints if e.secret_param)
        self.http.install(config, routes, self._secret_params | SECRET_QUERY_PARAMS)
        self._retired_socketio = self._sync_socketio(endpoints)

    def _sync_socketio(self, endpoints: list[Endpoint]) -> list[SocketIoEndpoint]:
        if self._socketio is None:
            if not any(endpoint.config.socketio for endpoint in endpoints):
                return []
            from .socketio import SocketIoHost, SocketIoServers

            host = SocketIoHost(
                hub=self.hub,
                handshake=self._handshake,
                config=lambda: self.config,
                next_id=lambda: f"c{next(self._ids)}",
            )
            self._socketio = SocketIoServers(host)
        return self._socketio.sync(endpoints)

    async def start(self) -> None:
        """Import the handlers, bind the port and start background tasks.

        Raises:
            ConfigError: A handler cannot be imported.
            OSError: The port cannot be bound.
        """
        self._path.acquire()
        try:
            await self._start()
        except BaseException:
            self._path.release()
            raise

    async def _start(self) -> None:
        self._install(
            self.config,
            load_endpoints(self.config, self.slots, self.timer, self.books),
            load_http_routes(self.config, self.slots, self.timer),
        )
        await self.hub.broker.start()
        self._scheduler = FlushScheduler(asyncio.get_running_loop())
        self._runner = web.AppRunner(
            self.build_app(),
            access_log_class=access_logger_for(self._secret_params),
            handle_signals=False,
            **compat.handler_options(self.config.limits),
        )
        await self._runner.setup()
        try:
            self._listener = await listen(
                self._runner,
                self.config.host,
                self.config.port,
                self.config.limits,
                self._ssl_context(),
                reuse_port=self._reuse_port,
            )
        except OSError:
            await self._runner.cleanup()
            await self.hub.broker.stop()
            raise
        self.port = self._listener.sockets[0].getsockname()[1]
        for slot in self.handler_slots():
            self.background.start(slot)
        for callback in self.on_started:
            await callback()

    async def apply_config(self, config: Config) -> ConfigChange:
        """Serve ``config`` from now on, without a restart.

        Added endpoints start serving; changed options apply to connections
        made from now on; connections of a removed endpoint, or of a pattern
        whose handler changed, close with 1012 "Service restart". The server
        stays bound to its host and port, with its TLS certificate.

        Raises:
            ConfigError: A handler of ``config`` cannot be imported; nothing
                has changed.
        """
        config = replace(
            config,
            host=self.config.host,
            port=self.config.port,
            reload=self.config.reload,
            tls=self.config.tls,  # the listening socket's; `serve --tls` set it, not the file
        )
        slots, books = dict(self.slots), dict(self.books)
        running = {endpoint.pattern: endpoint for endpoint in self.endpoints}
        plan = plan_reconfig(self.endpoints, load_endpoints(config, slots, self.timer, books))
        routes = load_http_routes(config, slots, self.timer)
        route_change = route_changes(self.config.http, config.http)
        doomed = [conn for conn in self.hub.connections.values() if conn.endpoint in plan.close]
        self._install(config, plan.endpoints, routes)
        for endpoint in plan.endpoints:
            old = running.get(endpoint.pattern)
            # An edit of the endpoint ends a run-time change of its faults, too.
            if old is not None and old is not endpoint and endpoint.pattern not in plan.close:
                if old.faults.plan != endpoint.faults.plan or old.faults.plan != old.config.faults:
                    endpoint.faults.replace(endpoint.faults.plan, self._connections_of(endpoint))
        # Authenticate and route modules too: the reloader follows every slot listed here.
        in_use = {slot for endpoint in self.endpoints for slot in endpoint.modules}
        in_use.update(routes.slots())
        self.slots = {name: slot for name, slot in slots.items() if slot in in_use}
        used = {
            book
            for endpoint in self.endpoints
            for book in (endpoint.rules, endpoint.upstream_rules)
            if book is not None
        }
        for book in books.values():
            if book not in used:
                book.install(None)
        self.books = {key: book for key, book in books.items() if book in used}
        for slot in plan.start_background:
            self.background.start(slot)
        closes = [
            asyncio.create_task(conn.close(CloseCode.SERVICE_RESTART, "Service restart"))
            for conn in doomed
        ]
        for task in closes:
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        await asyncio.gather(*(self.background.stop(slot) for slot in plan.stop_background))
        if closes:
            await asyncio.wait(closes, timeout=CLOSE_WAIT)
        retired, self._retired_socketio = self._retired_socketio, []
        await asyncio.gather(*(server.shutdown() for server in retired))
        return replace(plan.change, closed=len(doomed), routes=route_change)

    def _endpoint(self, pattern: str) -> Endpoint:
        for endpoint in self.endpoints:
            if endpoint.pattern == pattern:
                return endpoint
        known = ", ".join(endpoint.pattern for endpoint in self.endpoints) or "none"
        raise KeyError(f"no endpoint with pattern {pattern!r}; endpoints: {known}")

    def _connections_of(self, endpoint: Endpoint) -> list[Connection]:
        return [c for c in self.hub.connections.values() if c.endpoint == endpoint.pattern]

    def set_faults(
        self, pattern: str, faults: FaultsConfig | Mapping[str, Any] | None
    ) -> FaultsConfig | None:
        """Replace the network faults of endpoint ``pattern``, until its next config edit.

        They apply to its open connections and to new ones; ``refuse`` counts
        from now. ``faults`` has the config's shape (``{"latency": "50ms"}``);
        None or ``{}`` removes every fault.

        Returns:
            The faults now in force.

        Raises:
            KeyError: No endpoint has this pattern.
            ConfigError: ``faults`` is not valid.
            ValueError: Its close code may not be sent.
        """
        endpoint = self._endpoint(pattern)
        plan = faults if isinstance(faults, FaultsConfig) or faults is None else None
        if isinstance(faults, Mapping):
            plan = faults_from_data(faults)
        endpoint.faults.replace(plan, self._connections_of(endpoint))
        if self.hub.events.active:
            self.hub.events.publish(
                FaultInjected(
                    fault="set", endpoint=pattern, detail=endpoint.faults.describe() or "none"
                )
            )
        return plan

    async def fault(self, conn_id: str, fault: ConnectionFault) -> list[str]:
        """Inject ``fault`` into the open connection ``conn_id`` (abort, stall, close, latency).

        Returns:
            What was done, in words.

        Raises:
            KeyError: No open connection has this id.
            ValueError: The close code may not be sent.
        """
        conn = self.hub.get(conn_id)
        if conn is None:
            raise KeyError(f"no open connection {conn_id!r}")
        return await self._endpoint(conn.endpoint).faults.inject(conn, fault)

    async def restart_background(self, slot: HandlerSlot) -> None:
        """Cancel ``slot``'s ``background`` task and start the module's current one.

        Nothing starts again once the server is stopping or the module is no
        longer in use.
        """
        await self.background.stop(slot)
        if not self.stopping and slot in self.handler_slots():
            self.background.start(slot)

    def _ssl_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if tls is None:
            return None
        try:
            return server_ssl_context(tls)
        except (ssl.SSLError, OSError) as exc:
            raise self.config.error("tls", f"cannot use the certificate and key: {exc}") from None

    @property
    def secure(self) -> bool:
        """True when the server speaks TLS (``wss://`` and ``https://``)."""
        return self.config.tls is not None

    def url(self, pattern: str) -> str:
        """Return the full ``ws://`` (``wss://`` with TLS) URL of ``pattern`` on this server.

        A Socket.IO endpoint's is ``http://`` (``https://``): Socket.IO clients start with HTTP.
        """
        scheme = "wss" if self.secure else "ws"
        if any(e.pattern == pattern and e.config.socketio for e in self.endpoints):
            scheme = "https" if self.secure else "http"
        return f"{scheme}://{url_host(self.config.host)}:{self.port}{self.router.prefix}{pattern}"

    def http_url(self, path: str = "/") -> str:
        """Return the ``http://`` (``https://`` with TLS) URL of ``path`` on this server."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{url_host(self.config.host)}:{self.port}{path}"

    def route_url(self, route: HttpRoute) -> str:
        """Return the full ``http://`` (``https://``) URL (pattern) of ``route`` on this server."""
        return self.http_url(self.http.routes.full_path(route))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # The raw path: aiohttp's request.path has %2F decoded into a separator.
        path = request.rel_url.raw_path
        match = self.router.match_raw(path)
        if match is None and len(path) > 1 and path.endswith("/"):
            # A Socket.IO path may end in "/" (socket.io-client adds one).
            match = self.router.match_raw(path[:-1])
            if match is not None and not match.target.config.socketio:
                match = None
        socketio = match is not None and match.target.config.socketio
        # An upgrade to an endpoint's path is the endpoint's, whatever the routes say;
        # a Socket.IO endpoint's path is its own for every request.
        if match is None or (self.http.routes and not socketio and not _asks_upgrade(request)):
            answer = await self.http.answer(request)
            if answer is not None:
                return answer
        if match is None:
            if path in ("/", self.router.prefix or "/") and "Upgrade" not in request.headers:
                return home_page(request, self.router.prefix, self.endpoints, self._home_links)
            if self.http.routes:
                return self.http.not_found(request, [self.url(e.pattern) for e in self.endpoints])
            if request.method not in ("GET", "HEAD"):
                raise web.HTTPMethodNotAllowed(request.method, ["GET"])
            return web.Response(status=404, text=self._not_found_text(request.path))
        endpoint = match.target
        if socketio and self._socketio is not None:
            return await self._socketio.handle(request, endpoint, match.params)
        if request.method not in ("GET", "HEAD"):
            return web.Response(
                status=405,
                text=f"{request.path} is a WebSocket endpoint: it takes GET upgrades only.\n",
                headers={"Allow": "GET"},
            )
        refusal = self._handshake.refusal(request, endpoint, self.config, match.params)
        if refusal is not None:
            return refusal
        assert self._scheduler is not None
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            return await serve_connection(
                request,
                endpoint,
                match.params,
                hub=self.hub,
                scheduler=self._scheduler,
                conn_id=f"{self._id_prefix}c{next(self._ids)}",
            )
        finally:
            self._sessions.discard(task)
            self._handshake.release(endpoint)

    def _not_found_text(self, path: str) -> str:
        routes = "\n".join(
            f"  {self.router.prefix}{endpoint.pattern}" for endpoint in self.endpoints
        )
        return f"No endpoint matches {path}. Endpoints:\n{routes or '  (none)'}\n"

    async def stop(self) -> None:
        """Close every connection with 1001, run their ``on_close``, then unbind."""
        if self.stopping:
            return
        self._handshake.stopping = True
        try:
            for callback in self.on_stopping:
                await callback()
            connections = list(self.hub.connections.values())
            if connections:
                closing = {
                    asyncio.create_task(
                        conn.close(CloseCode.GOING_AWAY, "Server shutting down")
                    ): conn
                    for conn in connections
                }
                _, pending = await asyncio.wait(closing, timeout=SHUTDOWN_GRACE)
                for task in pending:
                    # A client that does not read never takes its close frame: drop it.
                    closing[task].abort()
            if self._sessions:
                await asyncio.wait(set(self._sessions), timeout=SHUTDOWN_GRACE)
            if self._socketio is not None:
                await self._socketio.stop()
            await self.background.stop_all()
            for book in self.books.values():
                await book.stop()
            if self._listener is not None:
                self._listener.close()
            if self._runner is not None:
                await self._runner.cleanup()
            await self.hub.broker.stop()
        finally:
            self._path.release()
