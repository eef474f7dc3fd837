"""The life of one WebSocket connection, from upgrade to unregistration.

Order for one connection: upgrade accepted, id assigned, authenticated,
registered in the hub, ``on_connect``, messages one at a time in arrival
order (each through the endpoint's stages), socket closed, ``on_close``,
removed from every room, unregistered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiohttp import WSMsgType, hdrs, web
from multidict import MultiDict, MultiDictProxy, MultiMapping

from ..auth.base import authenticate, refuse
from ..config.model import CompressionConfig
from ..hooks.pipeline import report_protocol_error, run_hook, run_pipeline
from ..hooks.proxy import (
    Upstream,
    UpstreamRefused,
    UpstreamUnavailable,
    open_upstream,
    upstream_handler,
)
from ..hub.connection import Connection, connection_closed, connection_opened
from ..hub.hub import Hub
from ..observe.events import message_in
from ..wire.close import CloseCode, encode_close_reason
from ..wire.codec import decode_text
from ..wire.deflate import Deflater
from ..wire.outbox import FlushScheduler, Outbox, policy_code
from ..wire.slowclient import watch_slow_client
from . import aiohttp_compat as compat
from .endpoints import Endpoint
from .listener import frame_scanner, notify_writable

__all__ = ["CLOSE_TIMEOUT", "serve_connection"]

log = logging.getLogger("mockws.proxy")

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


def _offered_subprotocols(request: web.Request) -> list[str]:
    offered = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
    return [name.strip() for name in offered.split(",") if name.strip()]


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
) -> web.StreamResponse:
    """Upgrade ``request`` and run the connection until it closes.

    A proxied endpoint opens its upstream first: the client is upgraded
    with the upstream's subprotocol, gets the upstream's refusal status
    instead of an upgrade, or close 1014 when the upstream is unreachable.
    """
    settings = endpoint.config
    protocols = settings.subprotocols
    auth = None
    upstream: Upstream | None = None
    unreachable = ""
    if endpoint.proxy is not None:
        # Authenticate first: an unauthenticated client never reaches the upstream.
        auth = await authenticate(endpoint.auth, request, conn_id)
        if auth.success:
            try:
                upstream = await open_upstream(
                    endpoint.proxy.config,
                    params,
                    request.query_string,
                    request.headers,
                    _offered_subprotocols(request),
                    settings.max_message_size,
                )
            except UpstreamRefused as exc:
                log.warning("%s: %s", conn_id, exc)
                return web.Response(
                    status=exc.status, text=f"The upstream refused the connection: {exc}\n"
                )
            except UpstreamUnavailable as exc:
                log.warning("%s: %s", conn_id, exc)
                unreachable = str(exc)
            protocols = (upstream.protocol,) if upstream and upstream.protocol else ()
    socket = web.WebSocketResponse(
        protocols=protocols,
        heartbeat=settings.heartbeat,
        max_msg_size=compat.message_size_limit(settings.max_message_size),
        compress=settings.compression.enabled,
        timeout=CLOSE_TIMEOUT,
    )
    await socket.prepare(request)
    frames = frame_scanner(compat.raw_transport(request))
    if frames is not None:
        frames.upgraded()
    if auth is None:
        auth = await authenticate(endpoint.auth, request, conn_id)
    if not auth.success:
        await refuse(socket, auth, conn_id)
        return socket
    if endpoint.proxy is not None and upstream is None:
        why = encode_close_reason(f"Bad gateway: {unreachable}")
        await socket.close(code=CloseCode.BAD_GATEWAY, message=why)
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
    if upstream is not None and endpoint.proxy is not None:
        conn.upstream = upstream.url
        endpoint.proxy.attach(conn, upstream)
    recording = None
    if endpoint.recorder is not None:
        recording = endpoint.recorder.start(
            conn_id, endpoint.pattern, conn.display_path, conn.subprotocol
        )
        conn.tap = recording
    pump: asyncio.Task[None] | None = None
    client_closed = False
    # aiohttp lets one byte too many through in a compressed message (see compat).
    inflating = bool(compat.negotiated_window_bits(socket))
    watch_slow_client(conn, outbox, settings.limits)
    if frames is not None:
        frames.enforce(settings.limits.max_fragments, settings.limits.max_queue, conn)
    endpoint.faults.attach(conn)
    slot = endpoint.handler
    spec = endpoint.spec
    spec_cleanup = None
    if spec is not None:
        conn.outgoing_check = spec.outgoing
    hub.register(conn)
    events = hub.events
    if events.active:
        events.publish(connection_opened(conn))
    rules = endpoint.rules
    try:
        if rules is not None and not await rules.opened(conn):
            return socket
        if not await run_hook(slot, conn, "on_connect"):
            await conn.close(CloseCode.INTERNAL_ERROR, "Internal error")
            return socket
        if spec is not None:
            spec_cleanup = await spec.open(conn)
        if upstream is not None:
            handle = upstream_handler(slot, settings.parse_json, endpoint.upstream_rules)
            pump = asyncio.create_task(
                upstream.pump(conn, handle), name=f"mockws upstream {conn_id}"
            )
        if endpoint.replay is not None:
            endpoint.replay.opened(conn)
        # The read loop runs in this frame: a helper coroutine's frame would stay
        # alive for the whole connection (idle memory).
        stages = endpoint.stages
        journal = hub.journal
        # A proxied endpoint with nothing but the forward stage never looks inside messages.
        parse_json = settings.parse_json and not (upstream is not None and len(stages) == 1)
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
                client_closed = True
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
            elif kind is WSMsgType.CLOSING:
                # A close from another task (admin API, broadcast handler, shutdown): the
                # session outlives its handshake, else TCP ends before the client's close frame.
                compat.await_close_reply(socket)
                await conn.wait_closed(CLOSE_TIMEOUT + 1.0)
                break
            elif kind is WSMsgType.CLOSED:
                break
            else:
                continue
            conn.messages_in += 1
            if journal is not None:
                journal.received(conn, data)
            if events.wants_messages:
                events.publish(message_in(conn.id, conn.endpoint, message.data))
            if frames is not None:
                frames.take()
            if recording is not None:
                recording.frame("in", kind, message.data)
            if upstream is not None:
                upstream.pending = message.data
            await run_pipeline(stages, conn, data)
            # Do not keep the last message alive while the connection idles.
            data = None
    finally:
        if spec_cleanup is not None:
            spec_cleanup()
        if compat.heartbeat_expired(socket):
            conn.record_close(CloseCode.ABNORMAL, compat.HEARTBEAT_TIMEOUT_REASON)
        conn.finish(int(socket.close_code or CloseCode.ABNORMAL))
        if rules is not None:
            rules.closed(conn)
        if endpoint.upstream_rules is not None:
            endpoint.upstream_rules.closed(conn)
        if pump is not None:
            pump.cancel()
        if upstream is not None and endpoint.proxy is not None:
            endpoint.proxy.detach(conn)
            await upstream.close(conn.close_code, conn.close_reason)
        if endpoint.replay is not None:
            endpoint.replay.closed(conn)
        if recording is not None:
            recording.closed("in" if client_closed else "out", conn.close_code, conn.close_reason)
        try:
            await run_hook(slot, conn, "on_close", conn.close_code, conn.close_reason)
        finally:
            hub.unregister(conn)
            if events.active:
                events.publish(connection_closed(conn))
    return socket
