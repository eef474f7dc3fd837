"""The aiohttp application that serves every configured endpoint."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from aiohttp import web

from .admin import install_admin
from .admission import Admission
from .auth import build_authenticator
from .config import Config, JwtConfig
from .endpoint import Endpoint
from .errors import HandlerError, MockwsError
from .eventlog import EventLogger
from .events import EventBus, handler_failed
from .handlers import HandlerSlot, call_hook, load_handler
from .hooktimer import set_slow_hook_warning
from .hub import Hub
from .listener import close_refused_upgrades, handler_options, listen
from .logs import access_logger_for
from .origins import origin_allowed
from .outbox import FlushScheduler
from .reconfig import ConfigChange, apply_endpoints
from .router import Router
from .session import CLOSE_GOING_AWAY, serve_connection

if TYPE_CHECKING:
    from .reload import Reloader

__all__ = ["MockServer", "load_endpoints"]

log = logging.getLogger("mockws.server")

BACKGROUND_GRACE = 2.0
SHUTDOWN_GRACE = 5.0


def load_endpoints(config: Config, slots: dict[str, HandlerSlot] | None = None) -> list[Endpoint]:
    """Import every endpoint's handler and return the endpoints in config order.

    Endpoints naming the same module share one :class:`HandlerSlot`.

    Raises:
        ConfigError: A handler cannot be imported; the error names the
            config key and, after it, the handler's own file and line.
    """
    slots = {} if slots is None else slots
    endpoints = []
    for endpoint_config in config.endpoints:
        try:
            module = load_handler(endpoint_config.handler, config.base_dir)
        except HandlerError as exc:
            key = f"{config.endpoint_key(endpoint_config)}.handler"
            raise config.error(key, f"cannot load {endpoint_config.handler!r}: {exc}") from None
        slot = slots.get(module.__name__)
        if slot is None:
            slot = slots[module.__name__] = HandlerSlot(endpoint_config.handler, module)
        try:
            auth = build_authenticator(endpoint_config, slot, slots, config.base_dir)
        except MockwsError as exc:
            key = f"{config.endpoint_key(endpoint_config)}.authenticate"
            if isinstance(endpoint_config.authenticate, JwtConfig):
                key += ".jwt"
            raise config.error(key, str(exc)) from None
        endpoints.append(Endpoint(endpoint_config, slot, auth))
    return endpoints


class MockServer:
    """Serves a config's endpoints on one port.

    Args:
        config: A validated config.
        log_messages: Log one line per message in and out, not only per
            connection event.
    """

    def __init__(self, config: Config, *, log_messages: bool = False) -> None:
        self.config = config
        self.hub = Hub()
        EventLogger(log_messages=log_messages).attach(self.hub.events)
        self.slots: dict[str, HandlerSlot] = {}
        self.endpoints: list[Endpoint] = []
        self.router: Router[Endpoint] = Router(config.prefix, ())
        self.port: int = config.port
        self._ids = itertools.count(1)
        self._sessions: set[asyncio.Task[object]] = set()
        self._background: dict[HandlerSlot, asyncio.Task[None]] = {}
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._admission = Admission()
        self._scheduler: FlushScheduler | None = None
        self._stopping = False
        self.reloader: Reloader | None = None
        self._secret_params: set[str] = set()

    def build_app(self) -> web.Application:
        """Return the aiohttp application: the admin routes, then one catch-all route."""
        app = web.Application()
        app.on_response_prepare.append(close_refused_upgrades)
        install_admin(app, self)
        app.router.add_get("/{tail:.*}", self._handle)
        return app

    def _install(self, config: Config, endpoints: Iterable[Endpoint]) -> None:
        endpoints = list(endpoints)
        router = Router(config.prefix, ((endpoint.pattern, endpoint) for endpoint in endpoints))
        self.config, self.endpoints, self.router = config, endpoints, router
        # Only ever added to: a request logged after a reload may still carry an old one.
        params = (endpoint.auth.query_param for endpoint in endpoints if endpoint.auth)
        self._secret_params.update(param for param in params if param)

    async def start(self) -> None:
        """Import the handlers, bind the port and start background tasks.

        Raises:
            ConfigError: A handler cannot be imported.
            OSError: The port cannot be bound.
        """
        self._install(self.config, load_endpoints(self.config, self.slots))
        set_slow_hook_warning(self.config.limits.slow_hook_warning)
        self._scheduler = FlushScheduler(asyncio.get_running_loop())
        self._runner = web.AppRunner(
            self.build_app(),
            access_log_class=access_logger_for(self._secret_params),
            handle_signals=False,
            **handler_options(self.config.limits),
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
        for slot in self._unique_slots():
            self._start_background(slot)
        if self.config.reload:
            from .reload import Reloader  # watchfiles loads only when reloading

            self.reloader = Reloader(self)
            await self.reloader.start()

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
        endpoints = load_endpoints(config, slots)
        return await apply_endpoints(self, config, endpoints, slots)

    def _unique_slots(self) -> list[HandlerSlot]:
        return list(dict.fromkeys(endpoint.handler for endpoint in self.endpoints))

    def _start_background(self, slot: HandlerSlot) -> None:
        hook = slot.hook("background")
        if hook is None:
            return
        task = asyncio.create_task(call_hook(hook, self.hub), name=f"mockws background {slot.spec}")
        task.add_done_callback(lambda done: _report_background_end(slot, done, self.hub.events))
        self._background[slot] = task

    async def _stop_background(self, slot: HandlerSlot) -> None:
        task = self._background.pop(slot, None)
        if task is None or task.done():
            return
        task.cancel()
        _, pending = await asyncio.wait({task}, timeout=BACKGROUND_GRACE)
        if pending:
            log.warning(
                "%s: background task ignored cancellation for %.0fs; abandoned",
                slot.spec,
                BACKGROUND_GRACE,
            )

    def url(self, pattern: str) -> str:
        """Return the full ``ws://`` URL of ``pattern`` on this server."""
        host = self.config.host
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{self.port}{self.router.prefix}{pattern}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = self.router.match(request.path)
        if match is None:
            return web.Response(status=404, text=self._not_found_text(request.path))
        if not web.WebSocketResponse().can_prepare(request).ok:
            return web.Response(
                status=426,
                text=f"{request.path} is a WebSocket endpoint: connect with a WebSocket "
                "client (new WebSocket('ws://...') in a browser).\n",
                headers={"Upgrade": "websocket", "Connection": "Upgrade"},
            )
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, self.config.allowed_origins):
            log.warning(
                "refused a connection to %s from origin %s (not in allowed_origins)",
                request.path,
                origin,
            )
            return web.Response(status=403, text=f"Origin {origin} is not allowed.\n")
        if self._stopping:
            return web.Response(status=503, text="The server is shutting down.\n")
        refusal = self._admission.admit(match.target, self.config.limits)
        if refusal is not None:
            return refusal
        assert self._scheduler is not None
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            return await serve_connection(
                request,
                match.target,
                match.params,
                hub=self.hub,
                scheduler=self._scheduler,
                conn_id=f"c{next(self._ids)}",
            )
        finally:
            self._sessions.discard(task)
            self._admission.release(match.target)

    def _not_found_text(self, path: str) -> str:
        routes = "\n".join(
            f"  {self.router.prefix}{endpoint.pattern}" for endpoint in self.endpoints
        )
        return f"No endpoint matches {path}. Endpoints:\n{routes or '  (none)'}\n"

    async def stop(self) -> None:
        """Close every connection with 1001, run their ``on_close``, then unbind."""
        if self._stopping:
            return
        self._stopping = True
        if self.reloader is not None:
            await self.reloader.stop()
        connections = list(self.hub.connections.values())
        if connections:
            closing = {
                asyncio.create_task(conn.close(CLOSE_GOING_AWAY, "Server shutting down")): conn
                for conn in connections
            }
            _, pending = await asyncio.wait(closing, timeout=SHUTDOWN_GRACE)
            for task in pending:
                # A client that does not read never takes its close frame: drop it.
                closing[task]._outbox.abort()
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=SHUTDOWN_GRACE)
        await asyncio.gather(*(self._stop_background(slot) for slot in list(self._background)))
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()


def _report_background_end(slot: HandlerSlot, task: asyncio.Task[None], events: EventBus) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s: background task raised", slot.spec, exc_info=error)
        if events.active:
            events.publish(handler_failed(slot.spec, "background", error))
