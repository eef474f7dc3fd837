"""Contract tests of mockws/server/aiohttp_compat.py: what mockws assumes aiohttp does.

Each test drives aiohttp itself (a real server on 127.0.0.1, a real client)
and checks the exact behaviour one function of ``aiohttp_compat`` leans on.
A failure names that assumption, the function to revisit and the aiohttp
version installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.web_protocol import RequestHandler

from mockws.config.limits import ServerLimits
from mockws.server.aiohttp_compat import (
    TESTED_AIOHTTP,
    await_close_reply,
    handler_options,
    heartbeat_expired,
    message_size_limit,
    negotiated_window_bits,
    protocol_error_code,
    protocol_factory,
    raw_transport,
    set_route_params,
    stall_socket,
    write_control_frames_after,
)
from mockws.testing import run_server
from mockws.wire.frames import Opcode, build_frame
from mockws.wire.outbox import FlushScheduler, Outbox, WritesAfterOutbox

from ..helpers import WriteFile, endpoint
from ..rawws import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, Frame, RawClient, frame, raw_connect

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def broken(relies_on: str, function: str) -> str:
    """The failure message of a contract: the assumption, where to look, and the versions."""
    return (
        f"mockws relies on {relies_on}; that no longer holds with aiohttp "
        f"{aiohttp.__version__} (mockws was checked against {TESTED_AIOHTTP}.x): "
        f"revisit mockws.server.aiohttp_compat.{function}()"
    )


@asynccontextmanager
async def aiohttp_server(handler: Handler, **runner_options: Any) -> AsyncIterator[int]:
    """Serve ``handler`` at /ws on a free port of 127.0.0.1 with plain aiohttp; yield the port."""
    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1, **runner_options)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
        yield sock.getsockname()[1]
    finally:
        await runner.cleanup()
        sock.close()


async def wait_for_result(future: asyncio.Future[Any], timeout: float = 3.0) -> Any:
    """What the server-side handler reported, within ``timeout`` seconds."""
    return await asyncio.wait_for(future, timeout)


# message_size_limit


async def test_message_size_limit_makes_the_limit_inclusive(raw_clients: object) -> None:
    """aiohttp refuses a message of exactly max_msg_size bytes with 1009, takes one byte less."""
    limit = 1000
    max_msg_size = message_size_limit(limit)

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=max_msg_size)
        await ws.prepare(request)
        while (message := await ws.receive()).type is WSMsgType.TEXT:
            await ws.send_str(str(len(message.data)))
        return ws

    cases = {
        "one frame": lambda size: [frame(OP_TEXT, b"x" * size)],
        "two fragments": lambda size: [
            frame(OP_TEXT, b"x" * 500, fin=False),
            frame(0x0, b"x" * (size - 500)),
        ],
    }
    async with aiohttp_server(handler) as port:
        for label, frames in cases.items():
            client = await raw_connect(port, "/ws")
            await client.send(b"".join(frames(limit)))
            reply = await client.read_frame()
            assert (reply.opcode, reply.payload) == (OP_TEXT, str(limit).encode()), broken(
                f"aiohttp accepting a {label} message of max_msg_size - 1 bytes, so that "
                f"max_msg_size={max_msg_size} allows max_message_size={limit} (got {reply})",
                "message_size_limit",
            )
            await client.send(b"".join(frames(limit + 1)))
            refused = await client.read_frame()
            assert refused.close_code == 1009, broken(
                f"aiohttp refusing a {label} message of exactly max_msg_size bytes with 1009, "
                f"so that max_msg_size={max_msg_size} refuses {limit + 1} bytes (got {refused})",
                "message_size_limit",
            )
            await client.close()


async def test_compressed_message_one_byte_over_the_limit_is_refused(write: WriteFile) -> None:
    """With permessage-deflate, a message one byte over max_message_size still closes 1009."""
    base: Path = write("sizes.py", "async def on_message(conn, data):\n    await conn.send('ok')\n")
    config = {
        "endpoints": [
            endpoint("/c", "sizes.py", max_message_size=1000, compression=True, parse_json=False)
        ]
    }
    async with run_server(config, base_dir=base.parent) as server:
        client = await server.connect("/c", compress=15)
        await client.send(b"x" * 1000)
        assert await client.receive() == "ok"
        await client.send(b"x" * 1001)
        with pytest.raises(ConnectionError, match="closed with 1009"):
            await client.receive()


# raw_transport


async def test_raw_transport_is_the_socket_aiohttp_frames_are_written_to() -> None:
    """Frames written to request.transport and aiohttp's own leave in order; gone once dropped."""
    report: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        transport = raw_transport(request)
        writer = ws._writer
        shared = writer is not None and writer.transport is transport
        transport.write(build_frame(Opcode.TEXT, b"raw-1"))
        await ws.send_str("aiohttp")
        transport.write(build_frame(Opcode.TEXT, b"raw-2"))
        await ws.receive()
        async with asyncio.timeout(2):
            while request.transport is not None:
                await asyncio.sleep(0.01)
        try:
            raw_transport(request)
        except ConnectionResetError:
            gone = True
        else:
            gone = False
        report.set_result({"shared": shared, "gone": gone})
        return ws

    async with aiohttp_server(handler) as port:
        client = await raw_connect(port, "/ws")
        received = [(await client.read_frame()).payload for _ in range(3)]
        assert received == [b"raw-1", b"aiohttp", b"raw-2"], broken(
            f"bytes written to request.transport interleaving with aiohttp's frames at frame "
            f"boundaries, in write order (got {received})",
            "raw_transport",
        )
        await client.close()
        result = await wait_for_result(report)
    assert result["shared"], broken(
        "WebSocketResponse._pre_start building its WebSocketWriter on request.transport",
        "raw_transport",
    )
    assert result["gone"], broken(
        "request.transport becoming None once the client is gone", "raw_transport"
    )


# write_control_frames_after


async def read_frames(client: RawClient, count: int) -> list[Frame]:
    """Read up to ``count`` frames, fewer if the server hangs up first."""
    frames = []
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while len(frames) < count:
            frames.append(await client.read_frame())
    return frames


async def test_control_frames_leave_after_the_outbox(raw_clients: object) -> None:
    """With _writer.transport swapped, a pong and a 1002 close follow the echoes queued first."""
    loop = asyncio.get_running_loop()
    report: asyncio.Future[dict[str, Any]] = loop.create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        writer = ws._writer
        found = {
            "writer": writer is not None,
            "transport": writer is not None and hasattr(writer, "transport"),
        }
        outbox = Outbox(raw_transport(request), FlushScheduler(loop))
        write_control_frames_after(ws, outbox)
        found["swapped"] = writer is not None and isinstance(writer.transport, WritesAfterOutbox)
        report.set_result(found)
        while (message := await ws.receive()).type is WSMsgType.TEXT:
            # Queued, not written: the outbox flushes at the end of the loop iteration.
            outbox.queue(build_frame(Opcode.TEXT, message.data.encode()))
        return ws

    async with aiohttp_server(handler) as port:
        client = await raw_connect(port, "/ws")
        found = await wait_for_result(report)
        assert found["writer"] and found["transport"], broken(
            f"WebSocketResponse._writer being set by prepare() and having a 'transport' "
            f"attribute (found {found})",
            "write_control_frames_after",
        )
        assert found["swapped"], broken(
            "WebSocketWriter.transport being a plain writable attribute",
            "write_control_frames_after",
        )
        await client.send(
            frame(OP_TEXT, b"echo-1")
            + frame(OP_PING, b"p")
            + frame(OP_TEXT, b"echo-2")
            + frame(0x3, b"reserved opcode")
        )
        frames = await read_frames(client, 4)
    seen = [(f.opcode, f.close_code if f.opcode == OP_CLOSE else f.payload) for f in frames]
    assert seen == [
        (OP_TEXT, b"echo-1"),
        (OP_PONG, b"p"),
        (OP_TEXT, b"echo-2"),
        (OP_CLOSE, 1002),
    ], broken(
        f"aiohttp writing its pongs and close frames through WebSocketResponse._writer"
        f".transport.write, so that they leave after the frames queued before them (got {seen})",
        "write_control_frames_after",
    )


# negotiated_window_bits


@pytest.mark.parametrize(
    ("compress", "offer", "bits"),
    [
        (True, "permessage-deflate", 15),
        (True, "permessage-deflate; server_max_window_bits=10", 10),
        (True, "permessage-deflate; client_max_window_bits", 15),
        (True, None, 0),
        (False, "permessage-deflate", 0),
    ],
)
async def test_negotiated_window_bits_after_prepare(
    raw_clients: object, compress: bool, offer: str | None, bits: int
) -> None:
    """After prepare(), WebSocketResponse.compress holds the agreed window bits, or 0."""
    report: asyncio.Future[tuple[object, object]] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(compress=compress)
        before = ws.compress
        await ws.prepare(request)
        report.set_result((before, negotiated_window_bits(ws)))
        await ws.receive()
        return ws

    headers = {"Sec-WebSocket-Extensions": offer} if offer else {}
    async with aiohttp_server(handler) as port:
        client = await raw_connect(port, "/ws", headers)
        before, after = await wait_for_result(report)
        agreed = client.headers.get("sec-websocket-extensions")
        await client.close()
    assert before is compress, broken(
        f"WebSocketResponse.compress being the constructor's bool before prepare() "
        f"(got {before!r})",
        "negotiated_window_bits",
    )
    assert after == bits, broken(
        f"WebSocketResponse.compress holding the negotiated window bits after prepare() "
        f"(offer {offer!r}: expected {bits}, got {after!r})",
        "negotiated_window_bits",
    )
    assert (agreed is not None) == bool(bits), broken(
        f"the permessage-deflate answer ({agreed!r}) agreeing with WebSocketResponse.compress",
        "negotiated_window_bits",
    )


# heartbeat_expired


async def test_missed_heartbeat_is_1006_with_a_timeout_error() -> None:
    """A peer that ignores a PING is dropped with close_code 1006 and a TimeoutError exception()."""
    interval = 0.2
    reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=interval)
        await ws.prepare(request)
        while (message := await ws.receive()).type is WSMsgType.TEXT:
            pass
        await reports.put(
            {
                "type": message.type,
                "code": ws.close_code,
                "exception": ws.exception(),
                "expired": heartbeat_expired(ws),
            }
        )
        return ws

    async with aiohttp_server(handler) as port, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{port}/ws"
        async with session.ws_connect(url, autoping=False) as silent:
            ping = await silent.receive(timeout=2)
            assert ping.type is WSMsgType.PING, ping
            timed_out = await asyncio.wait_for(reports.get(), 2)
        async with session.ws_connect(url, autoping=False) as chatty:
            # Data alone, never a PONG, for longer than the interval plus the PONG wait.
            for _ in range(8):
                await chatty.send_str("still here")
                await asyncio.sleep(interval / 4)
            await chatty.close()
            closed_normally = await asyncio.wait_for(reports.get(), 2)
        dropped = await raw_connect(port, "/ws")
        await dropped.close()
        dropped_at_once = await asyncio.wait_for(reports.get(), 2)
    assert timed_out["code"] == 1006, broken(
        f"a missed heartbeat leaving close_code 1006 (got {timed_out['code']})",
        "heartbeat_expired",
    )
    assert isinstance(timed_out["exception"], asyncio.TimeoutError), broken(
        f"a missed heartbeat leaving a TimeoutError in exception() "
        f"(got {timed_out['exception']!r})",
        "heartbeat_expired",
    )
    assert timed_out["type"] is WSMsgType.ERROR and timed_out["expired"], broken(
        f"receive() returning ERROR once the heartbeat expired (got {timed_out})",
        "heartbeat_expired",
    )
    assert not closed_normally["expired"] and closed_normally["code"] == 1000, broken(
        f"every inbound frame resetting the heartbeat, and a client's close not looking like "
        f"a missed heartbeat (got {closed_normally})",
        "heartbeat_expired",
    )
    assert not dropped_at_once["expired"], broken(
        f"a client that drops the connection without a close frame not looking like a missed "
        f"heartbeat (got {dropped_at_once})",
        "heartbeat_expired",
    )


# stall_socket


async def test_a_stalled_socket_answers_no_ping_sends_no_ping_and_no_close_frame() -> None:
    """After stall_socket: no PONG, no heartbeat PING, and the client's close gets no answer."""
    interval = 0.2
    reports: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=interval)
        await ws.prepare(request)
        first = await ws.receive()
        assert first.type is WSMsgType.TEXT
        await ws.send_str("before")
        stall_socket(ws)
        kinds = []
        while (message := await ws.receive()).type not in (WSMsgType.CLOSED, WSMsgType.CLOSING):
            kinds.append(message.type)
            if message.type is WSMsgType.CLOSE:
                break
        await reports.put({"kinds": kinds, "closed": ws.closed})
        return ws

    async with aiohttp_server(handler) as port:
        client = await raw_connect(port, "/ws")
        client.send_frame(OP_TEXT, b"go")
        assert (await client.read_data_frame()).payload == b"before"
        client.send_frame(OP_PING, b"are you there")
        # Longer than the heartbeat interval plus its PONG wait: nothing at all arrives.
        quiet = await client.frames_until_quiet(quiet=interval * 3)
        client.send_frame(OP_CLOSE, struct.pack("!H", 1000))
        report = await wait_for_result(reports.get())
        rest = await asyncio.wait_for(client.reader.read(), 3)
        await client.close()
    assert quiet == [], broken(
        f"a stalled socket writing nothing: no PONG, no heartbeat PING (got {quiet})",
        "stall_socket",
    )
    assert WSMsgType.PING in report["kinds"], broken(
        f"receive() returning a PING as a message once autoping is off (got {report})",
        "stall_socket",
    )
    assert rest == b"", broken(
        f"the transport closing after the client's close, with no close frame sent (got {rest!r})",
        "stall_socket",
    )


# protocol_error_code


@pytest.mark.parametrize(
    ("bad_frame", "code"),
    [
        pytest.param(frame(OP_TEXT, b"ok\xff\xfe"), 1007, id="invalid-utf8"),
        pytest.param(frame(0x3, b"x"), 1002, id="reserved-opcode"),
        pytest.param(frame(OP_TEXT, b"x" * 200), 1009, id="too-big"),
    ],
)
async def test_protocol_error_carries_the_code_already_sent(
    raw_clients: object, bad_frame: bytes, code: int
) -> None:
    """receive() sends the close frame, then returns ERROR with a WebSocketError of that .code."""
    report: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=100)
        await ws.prepare(request)
        message = await ws.receive()
        error = message.data
        report.set_result(
            {
                "type": message.type,
                "error": error,
                "has_code": hasattr(error, "code"),
                "code": protocol_error_code(error),
                "closed": ws.closed,
            }
        )
        return ws

    async with aiohttp_server(handler) as port:
        client = await raw_connect(port, "/ws")
        await client.send(bad_frame)
        sent = await client.read_close()
        await client.send(frame(OP_CLOSE, struct.pack("!H", code)))
        result = await wait_for_result(report)
    assert result["type"] is WSMsgType.ERROR and result["has_code"], broken(
        f"receive() returning an ERROR message whose data (WebSocketError) has .code "
        f"(got {result})",
        "protocol_error_code",
    )
    assert result["code"] == sent == code, broken(
        f"WebSocketError.code being the close code aiohttp sent (expected {code}, sent {sent}, "
        f".code {result['code']})",
        "protocol_error_code",
    )
    assert result["closed"], broken(
        "receive() sending the close frame before it returns the ERROR message",
        "protocol_error_code",
    )
    assert protocol_error_code(RuntimeError("not aiohttp's")) == 1006


# protocol_factory


async def test_protocol_factory_serves_http_through_loop_create_server() -> None:
    """After setup(), runner.server is a callable that makes RequestHandlers that serve the app."""

    async def hello(request: web.Request) -> web.StreamResponse:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, handle_signals=False)
    with pytest.raises(RuntimeError, match="setup"):
        protocol_factory(runner)
    await runner.setup()
    try:
        factory = protocol_factory(runner)
        made = factory()
        assert isinstance(made, RequestHandler) and isinstance(made, asyncio.Protocol), broken(
            f"runner.server() returning aiohttp's RequestHandler, an asyncio.Protocol "
            f"(got {type(made).__name__})",
            "protocol_factory",
        )
        server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/") as response,
            ):
                answer = (response.status, await response.text())
        finally:
            server.close()
            await server.wait_closed()
    finally:
        await runner.cleanup()
    assert answer == (200, "hello"), broken(
        f"the protocols runner.server makes serving the app when given to loop.create_server "
        f"(got {answer})",
        "protocol_factory",
    )


# handler_options


async def request_status(port: int, head: bytes) -> int:
    """Send one raw HTTP request head and return the response status."""
    client = await RawClient.open(port)
    try:
        await client.send(head)
        return int((await client.read_head()).split()[1])
    finally:
        await client.close()


async def seconds_until_dropped(port: int, sent: bytes) -> float:
    """Connect, send ``sent`` (maybe nothing), and time how long until the server hangs up."""
    loop = asyncio.get_running_loop()
    client = await RawClient.open(port)
    started = loop.time()
    try:
        await client.send(sent)
        answered = await asyncio.wait_for(client.reader.read(), 3)
        assert answered == b"", f"the server answered {answered!r} instead of hanging up"
        return loop.time() - started
    finally:
        await client.close()


async def test_handler_options_reach_every_request_handler(raw_clients: object) -> None:
    """RequestHandler takes max_line_size, max_field_size and keepalive_timeout from AppRunner."""
    limits = ServerLimits(max_header_size=32 * 1024, handshake_timeout=0.3)
    options = handler_options(limits)

    async def ok(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    long_line = b"GET /ws?q=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    long_field = b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Long: " + b"b" * 20_000 + b"\r\n\r\n"
    async with aiohttp_server(ok) as port:
        defaults = [await request_status(port, long_line), await request_status(port, long_field)]
    assert defaults == [400, 400], f"aiohttp's own defaults now take 20 kB lines: {defaults}"

    app = web.Application()
    runner = web.AppRunner(app, handle_signals=False, **options)
    await runner.setup()
    try:
        made = protocol_factory(runner)()
    finally:
        await runner.cleanup()
    taken = (made.max_line_size, made.max_field_size, made.keepalive_timeout)
    assert taken == (32 * 1024, 32 * 1024, 0.3), broken(
        f"RequestHandler accepting max_line_size, max_field_size and keepalive_timeout from "
        f"AppRunner (it has {taken}; aiohttp drops them all on a TypeError)",
        "handler_options",
    )

    async with aiohttp_server(ok, **options) as port:
        statuses = [await request_status(port, long_line), await request_status(port, long_field)]
        assert statuses == [200, 200], broken(
            f"max_line_size and max_field_size raising aiohttp's limit on a request line and on "
            f"a header field (got {statuses} for 20 kB ones)",
            "handler_options",
        )
        silent = await seconds_until_dropped(port, b"")
        partial = await seconds_until_dropped(port, b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    for what, seconds in (("sends nothing", silent), ("sends half a request", partial)):
        assert 0.2 < seconds < 1.5, broken(
            f"keepalive_timeout, armed in connection_made, closing a connection that {what} "
            f"(closed after {seconds:.2f}s, keepalive_timeout 0.3s)",
            "handler_options",
        )
    assert "keepalive_timeout" not in handler_options(ServerLimits(handshake_timeout=None))


# await_close_reply


async def _eof_after_close_frame(wait_for_reply: bool) -> bool:
    """Close from another task while the handler reads; tell whether TCP ended unanswered."""

    async def handler(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(timeout=3)
        await socket.prepare(request)
        closing = asyncio.create_task(socket.close(code=4001))
        message = await socket.receive()
        assert message.type is WSMsgType.CLOSING, broken(
            f"receive() returning CLOSING when close() runs in another task (got {message.type})",
            "await_close_reply",
        )
        if wait_for_reply:
            await_close_reply(socket)
        await closing
        return socket

    async with aiohttp_server(handler) as port:
        client = await RawClient.upgrade(port, "/ws")
        try:
            assert (await client.read_frame()).opcode == OP_CLOSE
            try:
                ended = await asyncio.wait_for(client.reader.read(1), 0.5) == b""
            except TimeoutError:
                ended = False
            client.send_frame(OP_CLOSE, struct.pack("!H", 4001))
            return ended
        finally:
            await client.close()


async def test_await_close_reply_makes_close_read_the_clients_close_frame() -> None:
    """Without it aiohttp ends TCP right after its close frame; with it, it waits for the reply."""
    assert await _eof_after_close_frame(wait_for_reply=False), (
        "aiohttp now waits for the client's close frame by itself: "
        "mockws.server.aiohttp_compat.await_close_reply() can go"
    )
    assert not await _eof_after_close_frame(wait_for_reply=True), broken(
        "close() reading the peer's close frame once _closing is cleared", "await_close_reply"
    )


# set_route_params


async def test_set_route_params_is_what_match_info_reads() -> None:
    """request.match_info is a dict that a handler reads after set_route_params replaced it."""
    app = web.Application()
    seen: dict[str, Any] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        set_route_params(request, {"name": "lamp"})
        seen.update(request.match_info)
        seen["same"] = request.match_info is request.match_info
        return web.Response()

    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        await web.SockSite(runner, sock).start()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{sock.getsockname()[1]}/files/x") as reply:
                assert reply.status == 200
    finally:
        await runner.cleanup()
        sock.close()
    assert seen == {"name": "lamp", "same": True}, broken(
        "request.match_info being one mutable dict per request", "set_route_params"
    )
