"""Hot reload under load: save-to-live latency and messages lost across reloads.

Starts ``mockws serve`` in a subprocess on a temporary project, opens
``--connections`` WebSockets to it (1,000 by default), then:

1. Latency: edits the handler ``--edits`` times. For each edit it measures the
   time from the end of the file write to the first reply produced by the new
   code, probing on one of the open connections every millisecond.
2. Stream: ``--streamers`` of the open connections each send a numbered
   message every ``--interval`` seconds while the handler is reloaded
   ``--reloads`` times in a row (each edit waits until the new code answers).
   Every message must come back exactly once and in order; every connection
   must still be open at the end and answer with the latest code.

Targets (docs/reload.md): median latency under 150 ms with 1,000 open
connections; zero dropped connections and zero lost messages.

Usage::

    python benchmarks/reload_latency.py                # full run, about a minute
    python benchmarks/reload_latency.py --connections 200 --edits 10 --reloads 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

# Like a real handler: stdlib imports and a project helper, which are
# followed but not re-run when only the handler changes.
HANDLER = """\
import asyncio
import json
import random

from bench_handlers.common import reply

VERSION = {version}


async def on_message(conn, data):
    await conn.send(reply(VERSION, data))
"""

HELPER = """\
def reply(version, data):
    return f"{version}:{data}"
"""

CONFIG = """\
endpoints:
  - pattern: /bench
    handler: bench_handlers/echo.py
"""


@dataclass
class Streamer:
    """One connection sending numbered messages and collecting the replies."""

    socket: aiohttp.ClientWebSocketResponse
    sent: int = 0
    replies: list[int] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    closed_early: bool = False

    async def send_until(self, stop: asyncio.Event, interval: float) -> None:
        while not stop.is_set():
            await self.socket.send_str(str(self.sent))
            self.sent += 1
            await asyncio.sleep(interval)

    async def read(self) -> None:
        async for message in self.socket:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            version, _, seq = message.data.partition(":")
            self.versions.append(int(version))
            self.replies.append(int(seq))
        self.closed_early = True


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Bench:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.handler = folder / "bench_handlers" / "echo.py"
        self.version = 0

    def write_version(self, version: int) -> None:
        self.version = version
        self.handler.write_text(HANDLER.format(version=version), encoding="utf-8")

    async def save_to_live(
        self, probe: aiohttp.ClientWebSocketResponse, timeout: float = 5.0
    ) -> float:
        """Write the next version; return seconds until ``probe`` gets a reply from it."""
        self.write_version(self.version + 1)
        written = time.perf_counter()
        expected = f"{self.version}:"
        while time.perf_counter() - written < timeout:
            await probe.send_str("probe")
            reply = await probe.receive(timeout=timeout)
            if reply.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"probe connection closed: {reply.type.name}")
            if reply.data.startswith(expected):
                return time.perf_counter() - written
            await asyncio.sleep(0.001)
        raise TimeoutError(f"version {self.version} never answered within {timeout}s")


def start_server(folder: Path) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "mockws", "serve", "--config", str(folder / "mockws.yaml")]
    command += ["--port", "0", "--log-level", "warning", "--reload"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=folder)
    assert server.stdout is not None
    deadline = time.monotonic() + 20
    for line in server.stdout:
        found = re.search(r"ready on [^ ]+:(\d+)", line)
        if found:
            return server, int(found.group(1))
        if time.monotonic() > deadline:
            break
    server.kill()
    raise RuntimeError("the server did not start")


async def open_all(
    session: aiohttp.ClientSession, url: str, count: int
) -> list[aiohttp.ClientWebSocketResponse]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for start in range(0, count, 100):
        batch = range(start, min(count, start + 100))
        sockets += await asyncio.gather(*(session.ws_connect(url) for _ in batch))
    return sockets


async def check_all(sockets: list[aiohttp.ClientWebSocketResponse], version: int) -> int:
    """Send one message on every connection; return how many did not answer with ``version``."""

    async def answers(socket: aiohttp.ClientWebSocketResponse) -> bool:
        try:
            await socket.send_str("check")
            reply = await socket.receive(timeout=10)
        except (ConnectionError, TimeoutError, RuntimeError):
            return False
        return reply.type is aiohttp.WSMsgType.TEXT and reply.data.startswith(f"{version}:")

    results = await asyncio.gather(*(answers(socket) for socket in sockets))
    return results.count(False)


async def run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mockws-bench-"))
    (folder / "bench_handlers").mkdir()
    (folder / "bench_handlers" / "common.py").write_text(HELPER, encoding="utf-8")
    (folder / "mockws.yaml").write_text(CONFIG, encoding="utf-8")
    bench = Bench(folder)
    bench.write_version(0)
    server, port = start_server(folder)
    url = f"http://127.0.0.1:{port}/bench"
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            opened = time.perf_counter()
            sockets = await open_all(session, url, args.connections)
            print(f"opened {len(sockets)} connections in {time.perf_counter() - opened:.1f}s")
            probe = sockets[0]

            latencies = []
            for _ in range(args.edits):
                await asyncio.sleep(args.pause)
                latencies.append(await bench.save_to_live(probe))
            print_latency("idle connections", latencies)

            streamers = [Streamer(socket) for socket in sockets[1 : 1 + args.streamers]]
            readers = [asyncio.create_task(streamer.read()) for streamer in streamers]
            stop = asyncio.Event()
            senders = [
                asyncio.create_task(streamer.send_until(stop, args.interval))
                for streamer in streamers
            ]
            stream_latencies = []
            started = time.perf_counter()
            for _ in range(args.reloads):
                stream_latencies.append(await bench.save_to_live(probe))
            elapsed = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*senders)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(10):
                    while any(len(s.replies) < s.sent and not s.closed_early for s in streamers):
                        await asyncio.sleep(0.01)
            print_latency(f"under a stream, {args.reloads} reloads in a row", stream_latencies)
            sent = sum(streamer.sent for streamer in streamers)
            lost = sum(len(set(range(s.sent)) - set(s.replies)) for s in streamers)
            duplicated = sum(len(s.replies) - len(set(s.replies)) for s in streamers)
            disordered = sum(s.replies != sorted(s.replies) for s in streamers)
            versions = {version for streamer in streamers for version in streamer.versions}
            print(
                f"stream: {sent} messages from {len(streamers)} connections in {elapsed:.1f}s "
                f"({sent / elapsed:.0f} msg/s), answered by {len(versions)} code versions"
            )
            for reader in readers:
                reader.cancel()
            dropped = await check_all(sockets, bench.version)
            print(
                f"lost messages: {lost}, duplicated: {duplicated}, "
                f"connections with replies out of order: {disordered}, "
                f"dropped connections (of {len(sockets)}): {dropped}"
            )
            ok = statistics.median(latencies) < 0.150 and not (lost or duplicated or dropped)
            print("targets (median < 150 ms, nothing lost or dropped):", "met" if ok else "MISSED")
            await asyncio.gather(*(socket.close() for socket in sockets))
            return 0 if ok else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)


def print_latency(label: str, latencies: list[float]) -> None:
    ms = [value * 1000 for value in latencies]
    print(
        f"save-to-live, {label}: n={len(ms)} median {statistics.median(ms):.1f} ms, "
        f"p90 {percentile(ms, 0.9):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=30, help="edits timed on idle connections")
    parser.add_argument("--reloads", type=int, default=100, help="reloads under the stream")
    parser.add_argument("--streamers", type=int, default=50, help="connections that stream")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between messages")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds between timed edits")
    args = parser.parse_args()
    if args.streamers >= args.connections:
        parser.error("--streamers must be smaller than --connections")
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
