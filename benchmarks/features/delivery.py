"""The delivery guarantee (API.md section 10), measured on a real ``mockws serve``.

Two rows:

- ``delivery burst``: a handler loop of 100,000 ``await conn.send(...)`` to one
  healthy reader (as fast as it can read): every message arrives, in order;
  the time and the server's RSS growth. websockets and raw aiohttp deliver
  them all too; before the guarantee mockws closed the client 1008 after
  about 18,000.
- ``delivery broadcast``: 60,000 room broadcasts to five readers and one
  client that never reads: the readers get them all, the non-reader is
  closed with 1008 within ``slow_client_timeout`` + 1 s, and the server's
  RSS grows less than 32 MiB.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp

from ..peers import ServerProcess, all_peers
from ..procstat import rss_bytes
from ..report import Target
from ..scenarios import Row
from . import FeatureContext

HANDLER = """
import time


async def on_connect(conn):
    if conn.endpoint == "/room":
        conn.join("room")


async def on_message(conn, data):
    if conn.endpoint == "/echo":  # ServerProcess's readiness check
        await conn.send(data)
        return
    n = data["n"]
    pad = "x" * data["pad"]
    longest = 0.0
    if data["op"] == "burst":
        for seq in range(n):
            await conn.send({"seq": seq, "pad": pad})
    else:
        for seq in range(n):
            started = time.perf_counter()
            await conn.hub.broadcast({"seq": seq, "pad": pad}, rooms="room")
            longest = max(longest, time.perf_counter() - started)
    await conn.send({"done": n, "longest_wait": longest})
"""

SLOW_CLIENT_TIMEOUT = 2.0
RSS_LIMIT = 32 * 1024 * 1024


def _config(work: Path) -> Path:
    (work / "delivery_handler.py").write_text(HANDLER)
    config = work / "delivery.yaml"
    limits = f"{{slow_client_timeout: {SLOW_CLIENT_TIMEOUT}}}"
    config.write_text(
        "endpoints:\n"
        "  - {pattern: /echo, handler: delivery_handler.py, parse_json: false}\n"
        f"  - {{pattern: /s, handler: delivery_handler.py, parse_json: true, limits: {limits}}}\n"
        f"  - {{pattern: /room, handler: delivery_handler.py, limits: {limits}}}\n"
    )
    return config


async def _read_seqs(ws: aiohttp.ClientWebSocketResponse, count: int, timeout: float) -> bool:
    """Read ``count`` messages; True when they are 0..count-1 in order."""
    async with asyncio.timeout(timeout):
        for expected in range(count):
            message = await ws.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                return False
            if not message.data.startswith(f'{{"seq":{expected},'):
                return False
    return True


async def _burst(port: int, count: int, pad: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{port}/s", max_msg_size=0) as ws:
            started = time.perf_counter()
            await ws.send_json({"op": "burst", "n": count, "pad": pad})
            in_order = await _read_seqs(ws, count, timeout=300)
            elapsed = time.perf_counter() - started
            done = await ws.receive_json(timeout=30) if in_order else {}
    return {
        "messages": count,
        "all in order": float(in_order and done.get("done") == count),
        "seconds": elapsed,
        "messages/s": count / elapsed,
    }


def _non_reader(port: int) -> socket.socket:
    """Upgrade with a small receive buffer, then never read."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /room HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    return sock


def _close_code_behind(sock: socket.socket, timeout: float) -> int | None:
    """Read the non-reader's backlog now; return the code of the close frame at its end."""
    # A 4 KB window would make reading the backlog take longer than close_grace.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.settimeout(timeout)
    buffer = b""
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            buffer += chunk
    except (TimeoutError, OSError):
        pass
    position = 0
    while position + 2 <= len(buffer):
        opcode, length = buffer[position] & 0x0F, buffer[position + 1] & 0x7F
        header = 2
        if length == 126:
            length, header = int.from_bytes(buffer[position + 2 : position + 4], "big"), 4
        elif length == 127:
            length, header = int.from_bytes(buffer[position + 2 : position + 10], "big"), 10
        if opcode == 0x8:
            start = position + header
            return int.from_bytes(buffer[start : start + 2], "big")
        position += header + length
    return None


async def _broadcast(server: ServerProcess, count: int, pad: int) -> dict[str, float]:
    port = server.port
    async with aiohttp.ClientSession() as session:
        readers = [
            await session.ws_connect(f"ws://127.0.0.1:{port}/room", max_msg_size=0)
            for _ in range(5)
        ]
        stalled = await asyncio.to_thread(_non_reader, port)
        sender = await session.ws_connect(f"ws://127.0.0.1:{port}/s")
        await asyncio.sleep(0.3)
        rss_before = rss_bytes(server.pid)
        peak = rss_before
        started = time.perf_counter()
        await sender.send_json({"op": "broadcast", "n": count, "pad": pad})
        reading = asyncio.gather(*(_read_seqs(ws, count, timeout=600) for ws in readers))
        while not reading.done():
            peak = max(peak, rss_bytes(server.pid))
            await asyncio.sleep(0.05)
        in_order = all(reading.result())
        elapsed = time.perf_counter() - started
        done = await sender.receive_json(timeout=60)
        code = await asyncio.to_thread(_close_code_behind, stalled, SLOW_CLIENT_TIMEOUT + 3)
        closed_after = time.perf_counter() - started
        stalled.close()
        for ws in [*readers, sender]:
            await ws.close()
    return {
        "messages": count,
        "readers all in order": float(in_order and done.get("done") == count),
        "seconds": elapsed,
        "non-reader close code": float(code or 0),
        "non-reader closed by (s)": closed_after,
        "longest broadcast wait (s)": float(done.get("longest_wait", 0.0)),
        "rss growth MiB": (peak - rss_before) / (1024 * 1024),
    }


def run(ctx: FeatureContext) -> list[Row]:
    """Measure both rows on one ``mockws serve``."""
    peer = next(peer for peer in all_peers() if peer.name == "mockws")
    config = _config(ctx.work)
    burst_count = 100_000
    broadcast_count = 20_000 if ctx.quick else 60_000
    # 1 KB messages: enough bytes that the non-reader falls past the kernel buffers and its mark.
    with ServerProcess(peer, config, log=ctx.logs / "delivery.log") as server:
        rss_before = rss_bytes(server.pid)
        burst = asyncio.run(_burst(server.port, burst_count, pad=100))
        burst["rss growth MiB"] = (rss_bytes(server.pid) - rss_before) / (1024 * 1024)
        ctx.log(f"delivery burst: {burst}")
        fanout = asyncio.run(_broadcast(server, broadcast_count, pad=1000))
        ctx.log(f"delivery broadcast: {fanout}")
    return [
        Row("delivery burst", "mockws", burst),
        Row("delivery broadcast", "mockws", fanout),
    ]


def _find(rows: list[Row], scenario: str) -> Row | None:
    return next((row for row in rows if row.scenario == scenario and row.metrics), None)


def targets(rows: list[Row]) -> list[Target]:
    """All messages delivered in order; the non-reader closed in time; RSS bounded."""
    found: list[Target] = []
    burst = _find(rows, "delivery burst")
    found.append(
        Target(
            "burst of 100,000 sends to one healthy reader: all arrive, in order",
            "all",
            "not measured"
            if burst is None
            else f"{'all' if burst.metrics['all in order'] else 'NOT all'} in "
            f"{burst.metrics['seconds']:.1f}s, RSS +{burst.metrics['rss growth MiB']:.1f} MiB",
            None if burst is None else bool(burst.metrics["all in order"]),
        )
    )
    fan: Any = _find(rows, "delivery broadcast")
    if fan is None:
        found.append(Target("room broadcast with a non-reader", "see below", "not measured", None))
        return found
    metrics = fan.metrics
    waited = metrics["longest broadcast wait (s)"]
    closed_in_time = metrics["non-reader close code"] == 1008 and waited <= SLOW_CLIENT_TIMEOUT + 1
    found += [
        Target(
            "room broadcast: five readers get every message, in order",
            "all",
            "all" if metrics["readers all in order"] else "NOT all",
            bool(metrics["readers all in order"]),
        ),
        Target(
            "room broadcast: the non-reader is closed 1008",
            f"within slow_client_timeout + 1 s ({SLOW_CLIENT_TIMEOUT + 1:.0f} s of falling behind)",
            f"code {metrics['non-reader close code']:.0f}; the broadcaster waited on it "
            f"{waited:.2f} s at most",
            closed_in_time,
        ),
        Target(
            "room broadcast: server RSS growth",
            "< 32 MiB",
            f"{metrics['rss growth MiB']:.1f} MiB",
            metrics["rss growth MiB"] < RSS_LIMIT / (1024 * 1024),
        ),
    ]
    return found
