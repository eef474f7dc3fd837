"""The life of one WebSocket connection, from upgrade to unregistration.

Order for one connection: upgrade accepted, id assigned, authenticated,
registered in the hub, ``on_connect``, messages one at a time in arrival
order, socket closed, ``on_close``, removed from every room, unregistered.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import WSMsgType, web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from .auth import authenticate, refuse
from .codec import decode_text
from .connection import Connection
from .deflate import negotiated_deflater
from .dispatch import DEFAULT_STAGES, report_hook_error, run_hook, run_pipeline
from .endpoint import Endpoint
from .events import connection_closed, connection_opened, handler_failed, message_in
from .heartbeat import HEARTBEAT_TIMEOUT_CODE, HEARTBEAT_TIMEOUT_REASON, heartbeat_expired
from .hub import Hub
from .inbound import watch_inbound
from .outbox import FlushScheduler, Outbox, WritesAfterOutbox
from .slowclient import watch_slow_client

__all__ = ["CLOSE_GOING_AWAY", "CLOSE_INTERNAL_ERROR", "serve_connection"]

log = logging.getLogger("mockws.connection")

CLOSE_ABNORMAL = 1006
CLOSE_GOING_AWAY = 1001
CLOSE_INTERNAL_ERROR = 1011
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_TIMEOUT = 5.0
_EMPTY_QUERY: MultiDictProxy[str] = MultiDictProxy(MultiDict())


def _query_without(request: web.Request, hidden: str | None) -> MultiMapping[str]:
    if not request.query_string:
        # Most connections have no query: share one empty mapping (idle memory).
        return _EMPTY_QUERY
    if hidden is None or hidden not in request.query:
        return request.query
    query = MultiDict(request.query)
    query.popall(hidden)
    return MultiDictProxy(query)


async def serve_connection(
    request: web.Request,
    endpoint: Endpoint,
    params: Mapping[str, str],
    *,
    hub: Hub,
    scheduler: FlushScheduler,
    conn_id: str,
) -> web.WebSocketResponse:
    """Upgrade ``request`` and run the connection until it closes."""
    settings = endpoint.config
    socket = web.WebSocketResponse(
        protocols=settings.subprotocols,
        heartbeat=settings.heartbeat,
        # aiohttp refuses a message of exactly max_msg_size; ours allows it.
        max_msg_size=settings.max_message_size + 1,
        compress=settings.compression.enabled,
        timeout=CLOSE_TIMEOUT,
    )
    await socket.prepare(request)
    auth = await authenticate(endpoint.auth, request, conn_id)
    if not auth.success:
        await refuse(socket, auth, conn_id)
        return socket
    transport = request.transport
    assert transport is not None
    outbox = Outbox(transport, scheduler, high_water=settings.limits.send_high_water)
    if socket._writer is not None:
        # aiohttp writes close frames and pongs itself: keep them behind queued frames.
        socket._writer.transport = WritesAfterOutbox(transport, outbox)  # type: ignore[assignment]
    conn = Connection(
        conn_id=conn_id,
        hub=hub,
        endpoint=endpoint,
        request=request,
        socket=socket,
        outbox=outbox,
        params=params,
        query=_query_without(request, endpoint.auth.query_param if endpoint.auth else None),
        deflater=negotiated_deflater(socket, settings.compression),
    )
    conn.auth_data, conn.user_id = auth.data, auth.user_id
    watch_slow_client(conn, outbox, settings.limits)
    frames = watch_inbound(conn, transport, settings.limits)
    hub._register(conn)
    if hub.events.active:
        hub.events.publish(connection_opened(conn))
    try:
        if not await run_hook(conn, "on_connect"):
            await conn.close(CLOSE_INTERNAL_ERROR, "Internal error")
            return socket
        # The read loop runs in this frame: a helper coroutine's frame would stay
        # alive for the whole connection (idle memory).
        parse_json = conn._endpoint.config.parse_json
        events = conn._events
        while True:
            message = await socket.receive()
            kind = message.type
            if kind is WSMsgType.TEXT:
                data = decode_text(message.data, parse_json)
            elif kind is WSMsgType.BINARY:
                data = message.data
            elif kind is WSMsgType.CLOSE:
                _record_close(conn, int(message.data), str(message.extra or ""))
                break
            elif kind is WSMsgType.ERROR:
                if heartbeat_expired(socket):
                    break
                # aiohttp has already sent the close frame with the error's code.
                error = message.data
                code = int(getattr(error, "code", CLOSE_ABNORMAL))
                reason = str(error)
                if code == CLOSE_MESSAGE_TOO_BIG:
                    # aiohttp's text names its own limit, one more than ours.
                    limit = conn._endpoint.config.max_message_size
                    reason = f"Message too big: over max_message_size ({limit} bytes)"
                _record_close(conn, code, reason)
                await _report_protocol_error(conn, error)
                continue
            elif kind in (WSMsgType.CLOSING, WSMsgType.CLOSED):
                break
            else:
                continue
            conn.messages_in += 1
            if events.wants_messages:
                events.publish(message_in(conn.id, conn.endpoint, message.data))
            if frames is not None:
                frames.take()
            await run_pipeline(DEFAULT_STAGES, conn, data)
            # Do not keep the last message alive while the connection idles.
            data = None
    finally:
        if heartbeat_expired(socket):
            _record_close(conn, HEARTBEAT_TIMEOUT_CODE, HEARTBEAT_TIMEOUT_REASON)
        _record_close(conn, int(socket.close_code or CLOSE_ABNORMAL), "")
        conn._closing = True
        try:
            await run_hook(conn, "on_close", conn.close_code, conn.close_reason)
        finally:
            hub._unregister(conn)
            if hub.events.active:
                hub.events.publish(connection_closed(conn))
    return socket


def _record_close(conn: Connection, code: int, reason: str) -> None:
    if conn.close_code is None:
        conn.close_code, conn.close_reason = code, reason


async def _report_protocol_error(conn: Connection, error: BaseException) -> None:
    """A client broke the protocol: pass it to on_error, or log it as a warning."""
    if conn._endpoint.handler.hook("on_error") is not None:
        await report_hook_error(conn, error, "the protocol")
    else:
        log.warning("%s: protocol error from client: %s", conn.id, error)
        if conn._events.active:
            conn._events.publish(
                handler_failed(conn._endpoint.handler.spec, "the protocol", error, conn.id)
            )
