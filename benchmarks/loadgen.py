"""Load generator processes: each runs one kind of client work on its own loop.

The suite starts these with :class:`Workers` (separate processes, so the
load never shares an interpreter with the measured server) and talks to
them over pipes: a worker reports ``ready`` once its connections are open,
waits for a command, does the work and sends back what it measured. Every
worker has a deadline after which it stops by itself.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections.abc import Callable, Coroutine
from multiprocessing.connection import Connection
from typing import Any

from .wsclient import WsClient, connect

__all__ = ["KINDS", "Workers", "make_payload"]

_PAD_KEY = ',"pad":"'


def make_payload(size: int, **fields: Any) -> bytes:
    """Return a JSON object with ``fields`` padded to exactly ``size`` bytes."""
    head = json.dumps(fields, separators=(",", ":"))[:-1]
    room = size - len(head) - len(_PAD_KEY) - 2
    return (head + _PAD_KEY + "x" * max(room, 0) + '"}').encode()


class Channel:
    """The worker's end of its pipe, usable from the event loop."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe

    def send(self, message: Any) -> None:
        self.pipe.send(message)

    async def recv(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.pipe.recv)


async def _open_many(
    count: int, opener: Callable[[], Coroutine[Any, Any, WsClient]], concurrency: int = 64
) -> list[WsClient]:
    gate = asyncio.Semaphore(concurrency)

    async def one() -> WsClient:
        async with gate:
            return await opener()

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def _close_all(clients: list[WsClient], timeout: float = 5.0) -> None:
    for client in clients:
        client.close()
    waits = [client.closed for client in clients]
    if waits:
        await asyncio.wait(waits, timeout=timeout)
    for client in clients:
        client.abort()


async def echo(params: dict[str, Any], channel: Channel) -> None:
    """Closed loop: each client sends a message, waits for it back, repeats."""
    loop = asyncio.get_running_loop()
    clients, messages, size = params["clients"], params["messages"], params["size"]
    warmup = params["warmup"]
    rtts: list[float] = []
    measuring = False
    finished: asyncio.Future[None] = loop.create_future()
    running = 0
    frames = [make_payload(size, type="echo", seq=seq) for seq in range(max(messages, warmup))]
    clock = time.perf_counter

    def send(client: WsClient, seq: int) -> None:
        client.sent_at = clock()
        client.send_text(frames[seq])

    def on_message(client: WsClient, opcode: int, payload: bytes) -> None:
        nonlocal running
        now = clock()
        seq = client.seq = client.seq + 1
        limit = messages if measuring else warmup
        if measuring:
            rtts.append(now - client.sent_at)
        if seq < limit:
            send(client, seq)
            return
        running -= 1
        if running == 0 and not finished.done():
            finished.set_result(None)

    async def run_round(count: int) -> float:
        nonlocal running, finished
        finished = loop.create_future()
        running = len(conns)
        start = clock()
        for client in conns:
            client.seq = 0
            send(client, 0)
        if count > 0:
            await asyncio.wait_for(finished, params["timeout"])
        return clock() - start

    conns = await _open_many(clients, lambda: connect(params["port"], params["path"], on_message))
    if warmup:
        await run_round(warmup)
    channel.send("ready")
    measuring = True
    for _ in range(params.get("rounds", 1)):
        await channel.recv()
        rtts.clear()
        try:
            elapsed = await run_round(messages)
        except TimeoutError:
            elapsed = params["timeout"]
        channel.send({"count": len(rtts), "elapsed": elapsed, "rtts": list(rtts)})
    await _close_all(conns)


async def receivers(params: dict[str, Any], channel: Channel) -> None:
    """Room members that record, per broadcast, the latency to their last copy."""
    loop = asyncio.get_running_loop()
    counts: dict[str, int] = {}
    latest: dict[str, dict[int, float]] = {}
    last_seen: dict[str, float] = {}
    waiting: dict[str, tuple[int, asyncio.Future[None]]] = {}
    clock = time.monotonic
    loads = json.loads

    def on_message(client: WsClient, opcode: int, payload: bytes) -> None:
        now = clock()
        message = loads(payload)
        phase = message["phase"]
        seq = message["seq"]
        latency = now - message["t"]
        per_seq = latest.setdefault(phase, {})
        if latency > per_seq.get(seq, 0.0):
            per_seq[seq] = latency
        count = counts[phase] = counts.get(phase, 0) + 1
        last_seen[phase] = now
        wanted = waiting.get(phase)
        if wanted is not None and count >= wanted[0] and not wanted[1].done():
            wanted[1].set_result(None)

    conns = await _open_many(
        params["clients"], lambda: connect(params["port"], params["path"], on_message)
    )
    channel.send("ready")
    while True:
        command = await channel.recv()
        if command["op"] == "stop":
            break
        phase, expected = command["phase"], command["count"] * len(conns)
        done: asyncio.Future[None] = loop.create_future()
        waiting[phase] = (expected, done)
        if counts.get(phase, 0) >= expected:
            done.set_result(None)
        try:
            await asyncio.wait_for(done, command["timeout"])
        except TimeoutError:
            pass
        channel.send(
            {
                "received": counts.get(phase, 0),
                "latency": latest.get(phase, {}),
                "last": last_seen.get(phase, 0.0),
            }
        )
    await _close_all(conns)


async def sender(params: dict[str, Any], channel: Channel) -> None:
    """One room member that sends phases of broadcasts: bursts or paced."""
    client = await connect(params["port"], params["path"])
    assert client.transport is not None
    channel.send("ready")
    clock = time.monotonic
    while True:
        command = await channel.recv()
        if command["op"] == "stop":
            break
        phase, count, interval = command["phase"], command["count"], command["interval"]
        size = command["size"]
        start = clock()
        for seq in range(count):
            client.send_text(make_payload(size, phase=phase, seq=seq, t=clock()))
            if interval:
                await asyncio.sleep(max(0.0, start + (seq + 1) * interval - clock()))
            elif seq % 64 == 63:
                # Let the transport hand what it holds to the kernel.
                await asyncio.sleep(0)
        while client.transport.get_write_buffer_size():
            await asyncio.sleep(0.001)
        channel.send({"sent": count, "start": start, "end": clock()})
    await _close_all([client])


async def idle(params: dict[str, Any], channel: Channel) -> None:
    """Open connections, exchange one message on each, then hold them idle."""
    replies = 0
    loop = asyncio.get_running_loop()
    all_replied: asyncio.Future[None] = loop.create_future()
    count = params["clients"]

    def on_message(client: WsClient, opcode: int, payload: bytes) -> None:
        nonlocal replies
        replies += 1
        if replies == count and not all_replied.done():
            all_replied.set_result(None)

    payload = make_payload(128, type="hello", seq=0)

    async def open_one() -> WsClient:
        client = await connect(
            params["port"], params["path"], on_message, headers=params.get("headers", "")
        )
        client.send_text(payload)
        return client

    conns = await _open_many(count, open_one, concurrency=32)
    try:
        await asyncio.wait_for(all_replied, params["timeout"])
    except TimeoutError:
        pass
    extensions = sum(1 for c in conns if b"permessage-deflate" in c.response_head.lower())
    channel.send({"open": len(conns), "replied": replies, "deflate": extensions})
    await channel.recv()
    for client in conns:
        client.abort()


async def handshakes(params: dict[str, Any], channel: Channel) -> None:
    """Open, upgrade and cleanly close connections, ``concurrency`` at a time."""
    channel.send("ready")
    await channel.recv()
    done = failed = 0
    clock = time.perf_counter
    deadline = clock() + params["seconds"]
    path, port, total = params["path"], params["port"], params["count"]
    remaining = total

    async def loop_one() -> None:
        nonlocal done, failed, remaining
        while remaining > 0 and clock() < deadline:
            remaining -= 1
            try:
                client = await connect(port, path, timeout=5.0)
                client.close()
                await asyncio.wait_for(client.closed, 5.0)
                done += 1
            except (OSError, TimeoutError):
                failed += 1

    start = clock()
    await asyncio.gather(*(loop_one() for _ in range(params["concurrency"])))
    channel.send({"done": done, "failed": failed, "elapsed": clock() - start})


async def stalled(params: dict[str, Any], channel: Channel) -> None:
    """One room member that never reads: the server must not buffer for it unboundedly."""
    client = await connect(params["port"], params["path"])
    assert client.transport is not None
    client.transport.pause_reading()
    channel.send("ready")
    await channel.recv()
    client.abort()


KINDS: dict[str, Callable[[dict[str, Any], Channel], Coroutine[Any, Any, None]]] = {
    "echo": echo,
    "receivers": receivers,
    "sender": sender,
    "idle": idle,
    "handshakes": handshakes,
    "stalled": stalled,
}


def _worker(kind: str, params: dict[str, Any], pipe: Connection, loop: str) -> None:
    async def bounded() -> None:
        try:
            async with asyncio.timeout(params.get("deadline", 600.0)) as limit:
                await KINDS[kind](params, Channel(pipe))
        except Exception as exc:  # noqa: BLE001 - reported to the suite, which notes it
            if isinstance(exc, TimeoutError) and limit.expired():
                pipe.send({"error": f"{kind} worker passed its deadline"})
            else:
                pipe.send({"error": f"{kind} worker: {type(exc).__name__}: {exc}"})

    factory = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(bounded())


class Workers:
    """A group of load generator processes of one kind.

    Args:
        kind: A key of :data:`KINDS`.
        params: One parameter mapping per process.
        loop: The clients' event loop ("uvloop" when installed: cheaper clients).
    """

    def __init__(self, kind: str, params: list[dict[str, Any]], loop: str = "asyncio") -> None:
        context = multiprocessing.get_context("fork")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for one in params:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(kind, one, child, loop), daemon=True)
            process.start()
            child.close()
            self.pipes.append(parent)
            self.processes.append(process)

    def gather(self, timeout: float) -> list[Any]:
        """Return the next message of every worker; raise if one is late or failed."""
        deadline = time.monotonic() + timeout
        results = []
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            while not pipe.poll(0.05):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"a load generator did not answer in {timeout:.0f}s")
                if not process.is_alive():
                    raise RuntimeError(f"a load generator died (exit {process.exitcode})")
            message = pipe.recv()
            if isinstance(message, dict) and "error" in message:
                raise RuntimeError(message["error"])
            results.append(message)
        return results

    def send(self, message: Any) -> None:
        """Send ``message`` to every worker."""
        for pipe in self.pipes:
            pipe.send(message)

    def stop(self, timeout: float = 10.0) -> None:
        """Wait for the workers to exit; kill the ones that do not."""
        deadline = time.monotonic() + timeout
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
        for pipe in self.pipes:
            pipe.close()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(timeout=0.0 if exc[0] is not None else 10.0)
