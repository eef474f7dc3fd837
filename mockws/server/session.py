"""The life of one WebSocket connection, from upgrade to unregistration.

Order for one connection: upgrade accepted, id assigned, authenticated,
registered in the hub, ``on_connect``, messages one at a time in arrival
order (each through the endpoint's stages), socket closed, ``on_close``,
removed from every room, unregistered.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import WSMsgType, hdrs, web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from ..auth.base import authenticate, refuse
from ..config.model import CompressionConfig
from ..hooks.pipeline import report_protocol_error, run_hook, run_pipeline
from ..hub.connection import Connection, connection_closed, connection_opened
from ..hub.hub import Hub
from ..observe.events import message_in
from ..wire.close import CloseCode
from ..wire.codec import decode_text
from ..wire.deflate import Deflater
from ..wire.outbox import FlushScheduler, Outbox, policy_code
from ..wire.slowclient import watch_slow_client
from . import aiohttp_compat as compat
from .endpoints import Endpoint
from .listener import frame_scanner, notify_writable

__all__ = ["CLOSE_TIMEOUT", "serve_connection"]

# Seconds to wait for the client's answer to a close frame.
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


def _deflater(
    socket: web.WebSocketResponse, settings: CompressionConfig, independent: bool = False
) -> Deflater | None:
    """Return the deflater for a prepared socket, or None when nothing was negotiated.

    ``independent``: compress every message on its own (no context takeover),
    so that dropping one queued message (``drop_oldest``) leaves the later
    ones decodable.
    """
    window_bits = compat.negotiated_window_bits(socket)
    if not settings.enabled or not window_bits:
        return None
    agreed = socket.headers.get(hdrs.SEC_WEBSOCKET_EXTENSIONS, "")
    return Deflater(
        threshold=settings.threshold,
        window_bits=window_bits,
        context_takeover=not independent and "server_no_context_takeover" not in agreed,
    )


def _too_big(limit: int) -> str:
    return f"Message too big: over max_message_size ({limit} bytes)"


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
        max_msg_size=compat.message_size_limit(settings.max_message_size),
        compress=settings.compression.enabled,
        timeout=CLOSE_TIMEOUT,
    )
    await socket.prepare(request)
    frames = frame_scanner(compat.raw_transport(request))
    if frames is not None:
        frames.upgraded()
    auth = await authenticate(endpoint.auth, request, conn_id)
    if not auth.success:
        await refuse(socket, auth, conn_id)
        return socket
    transport = compat.raw_transport(request)
    limits = settings.limits
    outbox = Outbox(
        transport,
        scheduler,
        high_water=limits.send_high_water,
        policy=policy_code(limits.on_backpressure),
        timeout=limits.slow_client_timeout,
        close_grace=limits.close_grace,
    )
    compat.write_control_frames_after(socket, outbox)
    notify_writable(transport, outbox)
    conn = Connection(
        conn_id=conn_id,
        hub=hub,
        endpoint=endpoint,
        request=request,
        socket=socket,
        outbox=outbox,
        params=params,
        query=_query_without(request, endpoint.secret_param),
        deflater=_deflater(
            socket, settings.compression, independent=limits.on_backpressure == "drop_oldest"
        ),
    )
    conn.auth_data, conn.user_id = auth.data, auth.user_id
    # aiohttp lets one byte too many through in a compressed message (see compat).
    inflating = bool(compat.negotiated_window_bits(socket))
    watch_slow_client(conn, outbox, settings.limits)
    if frames is not None:
        frames.enforce(settings.limits.max_fragments, settings.limits.max_queue, conn)
    slot = endpoint.handler
    hub.register(conn)
    events = hub.events
    if events.active:
        events.publish(connection_opened(conn))
    try:
        if not await run_hook(slot, conn, "on_connect"):
            await conn.close(CloseCode.INTERNAL_ERROR, "Internal error")
            return socket
        # The read loop runs in this frame: a helper coroutine's frame would stay
        # alive for the whole connection (idle memory).
        parse_json = settings.parse_json
        stages = endpoint.stages
        while True:
            message = await socket.receive()
            kind = message.type
            if (
                inflating
                and kind in (WSMsgType.TEXT, WSMsgType.BINARY)
                and compat.inflated_over_limit(message.data, settings.max_message_size)
            ):
                conn.fail(CloseCode.MESSAGE_TOO_BIG, _too_big(settings.max_message_size))
                continue
            if kind is WSMsgType.TEXT:
                data = decode_text(message.data, parse_json)
            elif kind is WSMsgType.BINARY:
                data = message.data
            elif kind is WSMsgType.CLOSE:
                conn.record_close(int(message.data), str(message.extra or ""))
                break
            elif kind is WSMsgType.ERROR:
                if compat.heartbeat_expired(socket):
                    break
                # aiohttp has already sent the close frame with the error's code.
                error = message.data
                code = compat.protocol_error_code(error)
                reason = str(error)
                if code == CloseCode.MESSAGE_TOO_BIG:
                    # aiohttp's text names its own limit, one more than ours.
                    reason = _too_big(settings.max_message_size)
                conn.record_close(code, reason)
                await report_protocol_error(slot, conn, error)
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
            await run_pipeline(stages, conn, data)
            # Do not keep the last message alive while the connection idles.
            data = None
    finally:
        if compat.heartbeat_expired(socket):
            conn.record_close(CloseCode.ABNORMAL, compat.HEARTBEAT_TIMEOUT_REASON)
        conn.finish(int(socket.close_code or CloseCode.ABNORMAL))
        try:
            await run_hook(slot, conn, "on_close", conn.close_code, conn.close_reason)
        finally:
            hub.unregister(conn)
            if events.active:
                events.publish(connection_closed(conn))
    return socket
