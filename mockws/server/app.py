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
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from aiohttp import web

from ..config.model import Config
from ..hooks.loader import HandlerSlot, SysPathLease
from ..hooks.timer import HookTimer
from ..hub.broker import Broker
from ..hub.hub import Hub
from ..observe.eventlog import EventLogger
from ..observe.logging import access_logger_for
from ..wire.close import CloseCode
from ..wire.outbox import FlushScheduler
from . import aiohttp_compat as compat
from .background import BackgroundTasks
from .endpoints import Endpoint, load_endpoints
from .handshake import Handshake
from .listener import close_refused_upgrades, listen
from .reconfig import ConfigChange, plan_reconfig, unique_slots
from .router import Router
from .session import serve_connection
from .urls import url_host

__all__ = ["CLOSE_WAIT", "SHUTDOWN_GRACE", "MockServer", "RouteInstaller"]

log = logging.getLogger("mockws.server")

SHUTDOWN_GRACE = 5.0
# How long a config reload waits for closing clients to answer their close frame.
CLOSE_WAIT = 1.0

RouteInstaller = Callable[[web.Application], None]
Callback = Callable[[], Awaitable[None]]


class MockServer:
    """Serves a config's endpoints on one port.

    Args:
        config: A validated config.
        log_messages: Log one line per message in and out, not only per
            connection event.
        broker: Carries broadcasts between processes; in-process by default.

    Attributes:
        on_started: Awaited, in order, once the port is bound (the reloader
            starts here).
        on_stopping: Awaited, in order, before the connections are closed.
    """

    def __init__(
        self, config: Config, *, log_messages: bool = False, broker: Broker | None = None
    ) -> None:
        self.config = config
        self.hub = Hub(broker)
        EventLogger(log_messages=log_messages).attach(self.hub.events)
        self.slots: dict[str, HandlerSlot] = {}
        self.endpoints: list[Endpoint] = []
        self.router: Router[Endpoint] = Router(config.prefix, ())
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
        self._handshake = Handshake()
        self._scheduler: FlushScheduler | None = None
        self._path = SysPathLease(config.base_dir)
        self._secret_params: set[str] = set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` has begun."""
        return self._handshake.stopping

    def add_routes(self, installer: RouteInstaller) -> None:
        """Have ``installer(app)`` add its routes before the catch-all endpoint route.

        Call it before :meth:`start` (the admin routes come in this way).
        """
        self._route_installers.append(installer)

    def build_app(self) -> web.Application:
        """Return the aiohttp application: the added routes, then one catch-all route."""
        app = web.Application()
        app.on_response_prepare.append(close_refused_upgrades)
        for installer in self._route_installers:
            installer(app)
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    def handler_slots(self) -> list[HandlerSlot]:
        """Return the handler modules the endpoints use now, each once."""
        return unique_slots(self.endpoints)

    def _install(self, config: Config, endpoints: Iterable[Endpoint]) -> None:
        endpoints = list(endpoints)
        router = Router(config.prefix, ((endpoint.pattern, endpoint) for endpoint in endpoints))
        self.config, self.endpoints, self.router = config, endpoints, router
        self.timer.threshold = config.limits.slow_hook_warning
        # Only ever added to: a request logged after a reload may still carry an old one.
        self._secret_params.update(e.secret_param for e in endpoints if e.secret_param)

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
        self._install(self.config, load_endpoints(self.config, self.slots, self.timer))
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
                self._runner, self.config.host, self.config.port, self.config.limits
            )
        except OSError:
            await self._runner.cleanup()
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
        stays bound to its host and port.

        Raises:
            ConfigError: A handler of ``config`` cannot be imported; nothing
                has changed.
        """
        config = replace(
            config, host=self.config.host, port=self.config.port, reload=self.config.reload
        )
        slots = dict(self.slots)
        plan = plan_reconfig(self.endpoints, load_endpoints(config, slots, self.timer))
        doomed = [conn for conn in self.hub.connections.values() if conn.endpoint in plan.close]
        self._install(config, plan.endpoints)
        # Authenticate modules too: the reloader follows every slot listed here.
        in_use = {slot for endpoint in self.endpoints for slot in endpoint.modules}
        self.slots = {name: slot for name, slot in slots.items() if slot in in_use}
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
        return replace(plan.change, closed=len(doomed))

    async def restart_background(self, slot: HandlerSlot) -> None:
        """Cancel ``slot``'s ``background`` task and start the module's current one.

        Nothing starts again once the server is stopping or the module is no
        longer in use.
        """
        await self.background.stop(slot)
        if not self.stopping and slot in self.handler_slots():
            self.background.start(slot)

    def url(self, pattern: str) -> str:
        """Return the full ``ws://`` URL of ``pattern`` on this server."""
        return f"ws://{url_host(self.config.host)}:{self.port}{self.router.prefix}{pattern}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        # The raw path: aiohttp's request.path has %2F decoded into a separator.
        match = self.router.match_raw(request.rel_url.raw_path)
        if match is None:
            return web.Response(status=404, text=self._not_found_text(request.path))
        endpoint = match.target
        refusal = self._handshake.refusal(request, endpoint, self.config)
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
                conn_id=f"c{next(self._ids)}",
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
            await self.background.stop_all()
            if self._listener is not None:
                self._listener.close()
            if self._runner is not None:
                await self._runner.cleanup()
            await self.hub.broker.stop()
        finally:
            self._path.release()
