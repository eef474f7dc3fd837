"""HTTP routes: requests/s of a JSON route, mockws vs a bare aiohttp handler in the same run.

Each server runs as its own process; load generator processes hold keep-alive
connections and send the next ``GET`` as soon as the last answer is complete
(a closed loop, as wrk does), with a client written on asyncio's protocols so
that the client costs less than the server. Rows:

- ``http json`` for raw aiohttp (``web.json_response`` in a handler), mockws
  with a static ``json:`` route, and mockws with a templated one
  (``{{ query.id }}``, a plain name lookup; a Jinja expression such as
  ``{{ query.id | int }}`` costs some 40 us more per render, measured
  in-process under load).

Metrics: ``req_s`` (answers per second of wall time, what the clients got on
this machine), ``req_per_cpu_s`` (answers per second of the server's CPU
time: the rate one free core would sustain, which does not depend on how
fast the clients are), ``cpu_us`` per answer and latency percentiles. The
target compares mockws's static route with aiohttp on both; the templated
row shows what rendering a template per request costs.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from .. import loadgen
from ..loadgen import Channel, Workers
from ..peers import HANDLERS, Peer, ServerProcess, all_peers
from ..procstat import cpu_seconds, wait_until_quiet
from ..report import Target
from ..scenarios import Row
from . import FeatureContext

__all__ = ["run", "targets"]

SCENARIO = "http json"
ITEM_YAML = "{id: 1, name: lamp, price: 12.5, tags: [home, light]}"


class _KeepAlive(asyncio.Protocol):
    """One keep-alive connection that sends the next request once an answer is whole."""

    def __init__(self, request: bytes, done: list[float]) -> None:
        self.request = request
        self.done = done
        self.buffer = b""
        self.need = -1
        self.sent = 0.0
        self.running = False
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        assert self.transport is not None
        self.sent = time.perf_counter()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.need < 0:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end].lower()
                start = head.find(b"content-length:")
                length = int(head[start + 15 :].split(b"\r\n", 1)[0]) if start >= 0 else 0
                self.need = end + 4 + length
            if len(self.buffer) < self.need:
                return
            self.buffer = self.buffer[self.need :]
            self.need = -1
            self.done.append(time.perf_counter() - self.sent)
            if self.running:
                self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def http_get(params: dict[str, Any], channel: Channel) -> None:
    """Keep ``connections`` keep-alive connections busy for each ``seconds`` the suite sends."""
    loop = asyncio.get_running_loop()
    request = (
        f"GET {params['path']} HTTP/1.1\r\nHost: 127.0.0.1:{params['port']}\r\n\r\n"
    ).encode()
    done: list[float] = []
    clients: list[_KeepAlive] = []
    for _ in range(params["connections"]):
        _, client = await loop.create_connection(
            lambda: _KeepAlive(request, done), "127.0.0.1", params["port"]
        )
        clients.append(client)
    channel.send("ready")
    while (seconds := await channel.recv()) != "stop":
        done.clear()
        for client in clients:
            client.running = True
            client.send()
        await asyncio.sleep(seconds)
        for client in clients:
            client.running = False
        count, latencies = len(done), sorted(done)
        await asyncio.sleep(0.2)  # let the answers in flight arrive before the next round
        channel.send({"count": count, "latencies": latencies[:: max(1, len(latencies) // 2000)]})
    for client in clients:
        assert client.transport is not None
        client.transport.close()


loadgen.KINDS["http_get"] = http_get


def _mockws_config(work: Path) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "mockws-http.yaml"
    path.write_text(
        "host: 127.0.0.1\nport: 0\nreload: false\nendpoints:\n"
        f"  - pattern: /echo\n    handler: {HANDLERS / 'mockws_echo.py'}\n"
        "http:\n"
        f"  - route: GET /api/item\n    json: {ITEM_YAML}\n"
        "  - route: GET /api/templated\n"
        "    json: {id: '{{ query.id }}', name: lamp, price: 12.5, tags: [home, light]}\n",
        encoding="utf-8",
    )
    return path


def _aiohttp_peer() -> Peer:
    return Peer(
        name="aiohttp",
        argv=(sys.executable, "-m", "benchmarks.servers.aiohttp_http", "--port", "{port}"),
        ready=r"^READY",
        description="raw aiohttp, web.json_response in a handler",
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _measure(ctx: FeatureContext, server: ServerProcess, name: str, path: str, rounds: int) -> Row:
    quick = ctx.quick
    processes = 1 if quick else 2
    params = [
        {"port": server.port, "path": path, "connections": 16 if quick else 32, "deadline": 300.0}
        for _ in range(processes)
    ]
    warmup, seconds = (0.5, 2.0) if quick else (1.0, 5.0)
    measured: list[tuple[float, float, float, int, list[float]]] = []
    with Workers("http_get", params, ctx.client_loop) as workers:
        workers.gather(timeout=60)
        workers.send(warmup)
        workers.gather(timeout=60)
        for _ in range(rounds):
            wait_until_quiet(server.pid)
            cpu_before, started = cpu_seconds(server.pid), time.monotonic()
            workers.send(seconds)
            results = workers.gather(timeout=seconds + 60)
            cpu = cpu_seconds(server.pid) - cpu_before
            wall = time.monotonic() - started - 0.2
            count = sum(result["count"] for result in results)
            latencies = [value for result in results for value in result["latencies"]]
            measured.append((count / wall, count / max(cpu, 1e-9), cpu, count, latencies))
        workers.send("stop")
    # The median round by capacity: one busy moment on a shared machine does not decide.
    rate, capacity, cpu, count, latencies = sorted(measured, key=lambda one: one[1])[
        len(measured) // 2
    ]
    spread = ", ".join(f"{one[0]:.0f}" for one in measured)
    return Row(
        SCENARIO,
        name,
        {
            "req_s": rate,
            "req_per_cpu_s": capacity,
            "cpu_us": cpu / max(count, 1) * 1e6,
            "p50_ms": _percentile(latencies, 0.5) * 1e3,
            "p99_ms": _percentile(latencies, 0.99) * 1e3,
            "requests": count,
        },
        f"rounds {spread} req/s" if len(measured) > 1 else "",
    )


def run(ctx: FeatureContext) -> list[Row]:
    """Measure raw aiohttp, then mockws's static and templated JSON routes."""
    rounds = 1 if ctx.quick else 3
    rows: list[Row] = []
    mockws = next(peer for peer in all_peers() if peer.name == "mockws")
    config = _mockws_config(ctx.work)
    with ServerProcess(_aiohttp_peer(), log=ctx.logs / "http-aiohttp.log") as srv:
        rows.append(_measure(ctx, srv, "aiohttp", "/api/item", rounds))
    with ServerProcess(mockws, config, log=ctx.logs / "http-mockws.log") as srv:
        rows.append(_measure(ctx, srv, "mockws", "/api/item", rounds))
        rows.append(_measure(ctx, srv, "mockws template", "/api/templated?id=7", rounds))
    for row in rows:
        ctx.log(
            f"{SCENARIO} {row.server}: {row.metrics['req_s']:.0f} req/s, "
            f"{row.metrics['req_per_cpu_s']:.0f} req per CPU-second"
        )
    return rows


def _find(rows: list[Row], server: str) -> Row | None:
    return next((row for row in rows if row.scenario == SCENARIO and row.server == server), None)


def targets(rows: list[Row]) -> list[Target]:
    """mockws's JSON route serves at least 0.8x the requests of a bare aiohttp handler.

    The templated route has no target of its own: it renders Jinja per request,
    which a bare handler does not do; its row shows what templates cost.
    """
    base = _find(rows, "aiohttp")
    found: list[Target] = []
    for server in ("mockws",):
        row = _find(rows, server)
        for key, what in (("req_s", "req/s"), ("req_per_cpu_s", "req per CPU-second")):
            value = None
            if row is not None and base is not None and base.metrics.get(key):
                value = row.metrics[key] / base.metrics[key]
            found.append(
                Target(
                    f"HTTP JSON route {what}: {server} vs bare aiohttp handler",
                    ">= 0.80x",
                    f"{value:.2f}x" if value is not None else "not measured",
                    None if value is None else value >= 0.8,
                )
            )
    return found
