"""Socket.IO endpoints: python-socketio's ``AsyncServer`` on mockws's own aiohttp app.

Imported only for a config with a ``protocol: socket.io`` endpoint;
python-socketio itself loads at the first Socket.IO request
(:attr:`SocketIoEndpoint.sio`). Each such endpoint has one
:class:`SocketIoEndpoint`, kept by pattern across config reloads (its
clients' Engine.IO sessions live in it). mockws's catch-all route hands a
request whose path matches the endpoint to :meth:`SocketIoEndpoint.handle`,
which passes it to Engine.IO: the long-polling GETs and POSTs and the
WebSocket upgrade, on the same port as everything else, and without adding
routes to an app that is already running.

Socket.IO's events reach one catch-all namespace handler, which calls the
endpoint's handler module as docs/socketio.md describes: ``on_connect(conn,
auth)``, ``on_<event>``, ``EVENTS``, ``on_event``, ``on_close(conn,
reason)``. Each connection's events run one at a time, in arrival order.
Everything sent to a client goes through :meth:`SocketIoEndpoint.queue_emit`
(from :meth:`~mockws.hub.sio_connection.SioConnection._write_event`) and
leaves in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from ..auth.base import AuthResult, authenticate_payload, coerce_result
from ..config.model import Config
from ..hooks.pipeline import report_hook_error, run_hook
from ..hooks.rules import RuleBook
from ..hooks.sio_events import event_hook
from ..hub.connection import connection_closed, connection_opened
from ..hub.hub import Hub
from ..hub.sio_connection import SioConnection
from ..observe.events import event_in, event_out
from ..observe.recording import event_text
from ..wire.close import CloseCode
from ..wire.frames import Opcode
from .endpoints import Endpoint
from .handshake import Handshake, origin_allowed

__all__ = [
    "DISCONNECT_WAIT",
    "ENGINE_QUERY_PARAMS",
    "SocketIoEndpoint",
    "SocketIoHost",
    "SocketIoServers",
]

log = logging.getLogger("mockws.socketio")

# Engine.IO's own query parameters: not the client's, so not in conn.query.
ENGINE_QUERY_PARAMS = frozenset({"EIO", "transport", "t", "sid", "j", "b64"})
_PARAMS_KEY: web.RequestKey[Mapping[str, str]] = web.RequestKey("mockws.socketio.params")
# How each of Socket.IO's disconnect reasons is recorded as a close code.
_CLOSE_CODES = {
    "client disconnect": CloseCode.NORMAL,
    "server disconnect": CloseCode.NORMAL,
    "transport close": CloseCode.GOING_AWAY,
}


@dataclass(frozen=True)
class SocketIoHost:
    """What a Socket.IO endpoint needs from the server that runs it.

    Attributes:
        hub: The server's hub.
        handshake: Admission (connection limits, shutting down).
        config: Returns the config served now (origins, limits).
        next_id: Returns a new connection id.
    """

    hub: Hub
    handshake: Handshake
    config: Callable[[], Config]
    next_id: Callable[[], str]


class _Refused(Exception):
    def __init__(self, result: AuthResult) -> None:
        super().__init__(result.reason)
        self.result = result


def _client_query(request: web.Request, hidden: str | None) -> MultiMapping[str]:
    query = MultiDict(
        (name, value)
        for name, value in request.query.items()
        if name not in ENGINE_QUERY_PARAMS and name != hidden
    )
    return MultiDictProxy(query)


# Engine.IO's close waits until the client has fetched the close packet, which a
# client that is gone never does; the session counts as closed before that wait.
DISCONNECT_WAIT = 1.0


async def _bounded(closing: Awaitable[Any]) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(closing, DISCONNECT_WAIT)


def _ping_interval(heartbeat: float | None) -> float:
    """Engine.IO's ping interval: the endpoint's heartbeat, else Socket.IO's 25 s."""
    return heartbeat if heartbeat else 25.0


def _ping_timeout(heartbeat: float | None) -> float:
    """How long a ping may go unanswered: half the heartbeat, as for WebSocket endpoints."""
    return heartbeat / 2 if heartbeat else 20.0


def _positional_count(function: Callable[..., Any]) -> int | None:
    """How many positional arguments ``function`` takes; None when any number."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in parameters:
        if parameter.kind is parameter.VAR_POSITIONAL:
            return None
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


class SocketIoEndpoint:
    """One ``protocol: socket.io`` endpoint: its Socket.IO server and its clients.

    It is the :class:`~mockws.hub.sio_connection.EventChannel` of its
    connections.

    Args:
        endpoint: The endpoint served now (replaced by :meth:`update`).
        host: The running server's parts it uses.
    """

    def __init__(self, endpoint: Endpoint, host: SocketIoHost) -> None:
        self.endpoint = endpoint
        self._host = host
        self._sio: Any = None
        self._conns: dict[str, SioConnection] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._outgoing: deque[tuple[str, str, str, tuple[Any, ...]]] = deque()
        self._flushing = asyncio.Lock()
        self._drainer: asyncio.Task[None] | None = None
        # Events emitted while a client is connecting leave once Socket.IO has
        # accepted it: a client must see its CONNECT packet first.
        self._held: dict[str, list[tuple[str, str, str, tuple[Any, ...]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Requests being served: a long poll of an ended session waits out
        # ping_interval + ping_timeout in Engine.IO, so stopping cancels them.
        self._requests: set[asyncio.Task[Any]] = set()

    @property
    def pattern(self) -> str:
        """The endpoint's pattern."""
        return self.endpoint.pattern

    @property
    def started(self) -> bool:
        """True once the first request made the Socket.IO server."""
        return self._sio is not None

    @property
    def sio(self) -> Any:
        """python-socketio's ``AsyncServer``, made (and the library imported) on first use.

        Made at the first request rather than at start, so that ``mockws
        serve`` is ready as fast with a Socket.IO endpoint as without one
        (python-socketio takes about 0.2 s to import).
        """
        if self._sio is None:
            import socketio

            settings = self.endpoint.config
            sio = socketio.AsyncServer(
                async_mode="aiohttp",
                namespaces=list(settings.namespaces),
                cors_allowed_origins=self._origin_allowed,
                max_http_buffer_size=settings.max_message_size,
                ping_interval=_ping_interval(settings.heartbeat),
                ping_timeout=_ping_timeout(settings.heartbeat),
                logger=False,
                engineio_logger=False,
            )
            sio.register_namespace(_catch_all_namespace(self))
            self._sio = sio
        return self._sio

    @property
    def connections(self) -> Mapping[str, SioConnection]:
        """The connected clients by Socket.IO sid."""
        return self._conns

    def update(self, endpoint: Endpoint) -> None:
        """Serve ``endpoint`` (same pattern, edited config) from now on; clients stay."""
        self.endpoint = endpoint
        if self._sio is None:
            return  # made from the endpoint served at the first request
        settings = endpoint.config
        self.sio.namespaces = list(settings.namespaces)
        self.sio.eio.max_http_buffer_size = settings.max_message_size
        self.sio.eio.ping_interval = _ping_interval(settings.heartbeat)
        self.sio.eio.ping_timeout = _ping_timeout(settings.heartbeat)

    def _origin_allowed(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        allowed = origin_allowed(origin, self._host.config().allowed_origins)
        if not allowed:
            log.warning(
                "refused a Socket.IO request to %s from origin %s (not in allowed_origins)",
                self.pattern,
                origin,
            )
        return allowed

    async def handle(self, request: web.Request, params: Mapping[str, str]) -> web.StreamResponse:
        """Serve one Engine.IO request (a poll, a post, or the WebSocket upgrade)."""
        if self._host.handshake.stopping and "sid" not in request.query:
            return web.Response(status=503, text="The server is shutting down.\n")
        request[_PARAMS_KEY] = params
        task = asyncio.current_task()
        if task is not None:
            self._requests.add(task)
        try:
            response: web.StreamResponse = await self.sio.handle_request(request)
        finally:
            self._requests.discard(task)
        return response

    # --- the EventChannel of the connections ------------------------------------

    def queue_emit(self, sid: str, namespace: str, event: str, args: tuple[Any, ...]) -> bool:
        """Queue ``event`` for ``sid``; it leaves after everything queued before it."""
        if sid not in self._conns:
            return False
        held = self._held.get(sid)
        if held is not None:
            held.append((sid, namespace, event, args))
            return True
        self._outgoing.append((sid, namespace, event, args))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self.flush())
        return True

    async def flush(self) -> None:
        """Hand every queued event to Socket.IO, in order."""
        async with self._flushing:
            outgoing = self._outgoing
            while outgoing:
                sid, namespace, event, args = outgoing.popleft()
                try:
                    await self.sio.emit(event, args, to=sid, namespace=namespace)
                except Exception:  # noqa: BLE001 - one bad event must not stop the others
                    log.exception("%s: could not emit %r to %s", self.pattern, event, sid)

    async def call(
        self, sid: str, namespace: str, event: str, args: tuple[Any, ...], timeout: float
    ) -> Any:
        """Emit ``event`` to ``sid`` and return the client's acknowledgement."""
        try:
            return await self.sio.call(event, args, to=sid, namespace=namespace, timeout=timeout)
        except _exceptions().TimeoutError:
            raise TimeoutError(f"{sid} did not acknowledge {event!r} within {timeout}s") from None

    async def disconnect(self, sid: str, namespace: str, *, transport: bool) -> None:
        """Disconnect ``sid`` from ``namespace``, or end its whole Engine.IO session."""
        if sid in self._held:
            return  # still connecting: the connect handler refuses it instead
        if transport:
            try:
                eio_sid = self.sio.manager.eio_sid_from_sid(sid, namespace)
            except KeyError:
                eio_sid = None
            if eio_sid is not None:
                await _bounded(self.sio.eio.disconnect(eio_sid))
                return
        await _bounded(self.sio.disconnect(sid, namespace=namespace))

    def drop(self, sid: str) -> None:
        """End ``sid``'s Engine.IO session soon."""
        conn = self._conns.get(sid)
        if conn is not None:
            task = asyncio.get_running_loop().create_task(
                self.disconnect(sid, conn.namespace, transport=True)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def transport(self, sid: str) -> str | None:
        """The Engine.IO transport ``sid`` uses now."""
        conn = self._conns.get(sid)
        if conn is None:
            return None
        try:
            name: str = self.sio.transport(sid, conn.namespace)
        except KeyError:
            return None
        return name

    # --- events from Socket.IO ---------------------------------------------------

    async def dispatch(self, event: str, namespace: str, sid: str, *args: Any) -> Any:
        """Handle one Socket.IO event of ``sid`` in ``namespace``; return the ack."""
        if event == "connect":
            environ, auth = args[0], args[1] if len(args) > 1 else None
            return await self._connect(namespace, sid, environ, auth)
        if event == "disconnect":
            reason = str(args[0]) if args else "client disconnect"
            await self._disconnect(sid, reason)
            return None
        conn = self._conns.get(sid)
        if conn is None:
            return None
        lock = self._locks.get(sid)
        if lock is None:
            return None
        async with lock:
            return await self._handle_event(conn, event, args)

    async def _handle_event(self, conn: SioConnection, event: str, args: tuple[Any, ...]) -> Any:
        conn.messages_in += 1
        if conn.tap is not None:
            conn.tap.frame("in", Opcode.TEXT, event_text(event, args))
        events = self._host.hub.events
        if events.wants_messages:
            events.publish(event_in(conn.id, conn.endpoint, event, args))
        rules = self.endpoint.rules
        if rules is not None:
            handled, result = await self._run_rules(rules, conn, event, args)
            if not handled:
                result = await self._run_event(conn, event, args)
        else:
            result = await self._run_event(conn, event, args)
        await self.flush()
        return result

    async def _run_rules(
        self, rules: RuleBook, conn: SioConnection, event: str, args: tuple[Any, ...]
    ) -> tuple[bool, Any]:
        """Offer the event to the rules as ``{event, args}``; return (handled, ack)."""
        data = {"event": event, "args": list(args)}
        conn.begin_event()
        try:
            handled = await rules.stage(conn, data)
        finally:
            ack = conn.end_event()
        if not handled and self.endpoint.handler.is_empty:
            rules.unmatched(conn, data)
            handled = True
        if ack is not None:
            events = self._host.hub.events
            if events.wants_messages:
                ack_args = ack if isinstance(ack, tuple) else (ack,)
                events.publish(event_out(conn.id, conn.endpoint, event, ack_args, ack=True))
        return handled, ack

    async def _run_event(self, conn: SioConnection, event: str, args: tuple[Any, ...]) -> Any:
        slot = self.endpoint.handler
        hook_name, hook, leading = event_hook(slot, event)
        if hook is None:
            return None
        try:
            value = await slot.call(hook, conn, *leading, *args)
        except Exception as exc:  # noqa: BLE001 - handler errors are reported, never fatal
            await report_hook_error(slot, conn, exc, hook_name)
            return None
        if value is not None:
            events = self._host.hub.events
            if events.wants_messages:
                ack_args = value if isinstance(value, tuple) else (value,)
                events.publish(event_out(conn.id, conn.endpoint, event, ack_args, ack=True))
        # python-socketio sends a tuple as several arguments, None as none.
        return value

    async def _connect(
        self, namespace: str, sid: str, environ: Mapping[str, Any], auth: Any
    ) -> bool:
        request: web.Request = environ["aiohttp.request"]
        endpoint = self.endpoint
        host = self._host
        if host.handshake.stopping:
            raise _exceptions().ConnectionRefusedError("The server is shutting down")
        if host.handshake.admission.admit(endpoint, host.config().limits) is not None:
            raise _exceptions().ConnectionRefusedError(
                "Too many connections", {"code": int(CloseCode.TRY_AGAIN_LATER)}
            )
        admitted = True
        try:
            conn_id = host.next_id()
            status = endpoint.faults.refusal(host.hub.events)
            if status is not None:
                why = f"Refused by the endpoint's faults.refuse (as HTTP {status})"
                raise _Refused(AuthResult(False, code=CloseCode.TRY_AGAIN_LATER, reason=why))
            result = await authenticate_payload(endpoint.auth, request, auth, conn_id)
            if not result.success:
                log.info("%s refused: %s %s", conn_id, result.code, result.reason)
                raise _Refused(result)
            conn = SioConnection(
                conn_id=conn_id,
                hub=host.hub,
                endpoint=endpoint,
                request=request,
                channel=self,
                sid=sid,
                namespace=namespace,
                params=request.get(_PARAMS_KEY, {}),
                query=_client_query(request, endpoint.secret_param),
            )
            conn.auth_data, conn.user_id = result.data, result.user_id
            if endpoint.recorder is not None:
                conn.tap = endpoint.recorder.start(
                    conn_id, endpoint.pattern, conn.display_path, None
                )
            self._conns[sid] = conn
            self._locks[sid] = asyncio.Lock()
            host.hub.register(conn)
            endpoint.faults.attach(conn)
            events = host.hub.events
            if events.active:
                events.publish(connection_opened(conn))
            self._held[sid] = []
            refusal = await self._opened(conn, auth)
            held = self._held.pop(sid, [])
            if refusal is not None:
                conn.finish(refusal.code, refusal.reason)
                if endpoint.rules is not None:
                    endpoint.rules.closed(conn)
                self._forget(conn)
                raise _Refused(refusal)
            if held:
                self._outgoing.extend(held)
                # After this handler returns Socket.IO sends CONNECT, then these go.
                asyncio.get_running_loop().call_soon(self._kick)
            admitted = False  # released when the client disconnects
            return True
        except _Refused as refused:
            raise _exceptions().ConnectionRefusedError(
                refused.result.reason, {"code": refused.result.code}
            ) from None
        finally:
            if admitted:
                host.handshake.release(endpoint)

    def _kick(self) -> None:
        if self._outgoing and (self._drainer is None or self._drainer.done()):
            self._drainer = asyncio.get_running_loop().create_task(self.flush())

    async def _opened(self, conn: SioConnection, auth: Any) -> AuthResult | None:
        """Run the ``on_connect`` steps, then ``on_connect``; return the refusal, if any."""
        rules = self.endpoint.rules
        if rules is not None and not await rules.opened(conn):
            return AuthResult(False, conn.close_code or CloseCode.NORMAL, conn.close_reason)
        refusal = await self._on_connect(conn, auth)
        if refusal is None and conn.closed:
            return AuthResult(False, conn.close_code or CloseCode.NORMAL, conn.close_reason)
        return refusal

    async def _on_connect(self, conn: SioConnection, auth: Any) -> AuthResult | None:
        """Run ``on_connect(conn, auth)``; return the refusal it made, if any."""
        slot = self.endpoint.handler
        hook = slot.hook("on_connect")
        if hook is None:
            return None
        arity = _positional_count(hook)
        try:
            value = await slot.call(hook, conn, auth) if arity != 1 else await slot.call(hook, conn)
        except Exception as exc:  # noqa: BLE001 - a handler bug refuses, never crashes
            if await report_hook_error(slot, conn, exc, "on_connect"):
                return None
            return AuthResult(False, CloseCode.INTERNAL_ERROR, "Internal error")
        if value is None or value is True:
            return None
        try:
            result = coerce_result(value)
        except (TypeError, ValueError) as exc:
            await report_hook_error(slot, conn, exc, "on_connect")
            return AuthResult(False, CloseCode.INTERNAL_ERROR, "Internal error")
        if result.success:
            if result.data is not None:
                conn.auth_data = result.data
            if result.user_id is not None:
                conn.user_id = result.user_id
            return None
        return result

    async def _disconnect(self, sid: str, reason: str) -> None:
        conn = self._conns.get(sid)
        if conn is None:
            return
        lock = self._locks.get(sid)
        # When the client left, the events it sent before are handled before
        # on_close. A close from this side (conn.close, perhaps in one of those
        # events' handlers, which would then wait for itself) does not wait.
        if lock is not None and not conn.closed:
            async with lock:
                pass
        conn.finish(_CLOSE_CODES.get(reason, CloseCode.ABNORMAL), reason)
        if self.endpoint.rules is not None:
            self.endpoint.rules.closed(conn)
        try:
            await run_hook(self.endpoint.handler, conn, "on_close", reason)
        finally:
            self._forget(conn)
            self._host.handshake.release(self.endpoint)

    def _forget(self, conn: SioConnection) -> None:
        if conn.tap is not None:
            # python-socketio's reasons: "client disconnect", "server disconnect", ...
            if conn.close_reason.startswith("server"):
                conn.tap.closed("out", conn.close_code, conn.close_reason)
            else:
                conn.tap.closed("in", conn.close_code, conn.close_reason)
            conn.tap = None
        self._conns.pop(conn.sid, None)
        self._locks.pop(conn.sid, None)
        hub = self._host.hub
        hub.unregister(conn)
        if hub.events.active:
            hub.events.publish(connection_closed(conn))

    async def shutdown(self) -> None:
        """Disconnect every client and stop Socket.IO's background tasks."""
        if self._sio is None:
            return
        for conn in list(self._conns.values()):
            await conn.close(CloseCode.GOING_AWAY, "Server shutting down")
        await self.flush()
        # Engine.IO sessions in no namespace. One by one: python-engineio 4.15's
        # disconnect() of all raises ValueError when there are none by then.
        for eio_sid in list(self.sio.eio.sockets):
            await _bounded(self.sio.eio.disconnect(eio_sid))
        await self.sio.shutdown()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
        requests = set(self._requests)
        for task in requests:
            task.cancel()
        if requests:
            await asyncio.wait(requests, timeout=1.0)


def _exceptions() -> Any:
    import socketio.exceptions

    return socketio.exceptions


def _catch_all_namespace(owner: SocketIoEndpoint) -> Any:
    """Return the namespace handler that gives every namespace's events to ``owner``."""
    import socketio

    class CatchAll(socketio.AsyncNamespace):  # type: ignore[misc] # untyped library
        async def trigger_event(self, event: str, *args: Any) -> Any:
            # For the "*" namespace python-socketio passes the namespace first.
            namespace, sid, *rest = args
            return await owner.dispatch(event, namespace, sid, *rest)

    return CatchAll("*")


class SocketIoServers:
    """The Socket.IO endpoints of one server, by pattern.

    Args:
        host: The running server's parts the endpoints use.
    """

    def __init__(self, host: SocketIoHost) -> None:
        self._host = host
        self._by_pattern: dict[str, SocketIoEndpoint] = {}

    def get(self, endpoint: Endpoint) -> SocketIoEndpoint | None:
        """Return the Socket.IO server that serves ``endpoint`` now."""
        server = self._by_pattern.get(endpoint.pattern)
        return server if server is not None and server.endpoint is endpoint else None

    def sync(self, endpoints: Iterable[Endpoint]) -> list[SocketIoEndpoint]:
        """Serve the Socket.IO ones among ``endpoints``; return those no longer served.

        A pattern that stays keeps its Socket.IO server, and so its clients.
        """
        wanted = {endpoint.pattern: endpoint for endpoint in endpoints if endpoint.config.socketio}
        gone = [server for pattern, server in self._by_pattern.items() if pattern not in wanted]
        for server in gone:
            del self._by_pattern[server.pattern]
        for pattern, endpoint in wanted.items():
            running = self._by_pattern.get(pattern)
            if running is None:
                self._by_pattern[pattern] = SocketIoEndpoint(endpoint, self._host)
            elif running.endpoint is not endpoint:
                running.update(endpoint)
        return gone

    async def handle(
        self, request: web.Request, endpoint: Endpoint, params: Mapping[str, str]
    ) -> web.StreamResponse:
        """Serve an Engine.IO request for ``endpoint``."""
        server = self.get(endpoint)
        if server is None:
            return web.Response(status=404, text=f"{endpoint.pattern} is not served any more.\n")
        return await server.handle(request, params)

    async def stop(self) -> None:
        """Disconnect every Socket.IO client and stop every Socket.IO server."""
        servers, self._by_pattern = list(self._by_pattern.values()), {}
        await asyncio.gather(*(server.shutdown() for server in servers))
