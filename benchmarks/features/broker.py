"""Broker row: a broadcast to 2,000 room members over ``--workers 2`` vs one process.

Rows, all on one real ``redis-server`` started here (no persistence):

- ``broadcast 2000 (broker)``: one sender, 2,000 members of one room, a
  burst of broadcasts. Servers: raw aiohttp (the suite's baseline), mockws
  in one process (in-process fan-out), mockws in one process on the Redis
  broker (what publishing to Redis adds), and ``mockws serve --workers 2``
  (members spread over both workers by SO_REUSEPORT). CPU per delivered
  message is summed over every worker process; Redis's own CPU is in the
  note. Messages per second are delivered messages over wall time.
- ``broker hop``: two ``mockws serve`` processes on the broker, 100 members
  on each (then 1 on each), one sender on the first, paced broadcasts: the
  latency to the last member on the sender's process and on the other, the
  difference per message (what one Redis hop adds), p50 and p99, and each
  process's CPU per broadcast (with 1 member: the fixed cost of a
  broadcast; the difference to 100 members: the cost per delivery).

The machine running this is often shared: the load generators, the
workers and Redis compete for the same cores.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ..loadgen import Workers
from ..peers import HANDLERS, ServerProcess, all_peers, free_port
from ..procstat import cpu_seconds, wait_until_quiet
from ..scenarios import Row, _percentile, _split
from . import FeatureContext

__all__ = ["run"]

MEMBERS = 2000
HOP_MEMBERS = 100
SCENARIO = f"broadcast {MEMBERS} (broker)"
HOP = "broker hop"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _missing() -> str | None:
    if not Path(REDIS_SERVER).exists():
        return "redis-server is not installed"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis package is missing (pip install 'mockws[redis]')"
    return None


@contextlib.contextmanager
def _redis(work: Path) -> Iterator[tuple[int, int]]:
    """A redis-server on a free port; yields (port, pid)."""
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        yield port, process.pid
    finally:
        process.kill()
        process.wait(5)


def _config(work: Path, name: str, broker: str | None) -> Path:
    echo, room = HANDLERS / "mockws_echo.py", HANDLERS / "mockws_room.py"
    text = (
        "host: 127.0.0.1\nport: 0\nreload: false\nallowed_origins: ['*']\n"
        "limits: {max_connections: 0}\n"
        + (f"broker: {broker}\n" if broker else "")
        + f"endpoints:\n  - pattern: /echo\n    handler: {echo}\n"
        f"  - pattern: /room\n    handler: {room}\n"
    )
    path = work / f"broker-{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _tree(pid: int) -> list[int]:
    """``pid`` and its children (the workers of ``serve --workers``)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [pid, *(int(child) for child in children.read().split())]
    except OSError:
        return [pid]


def _cpu(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def _expect(receivers: list[Workers], phase: str, count: int, timeout: float) -> None:
    for group in receivers:
        group.send({"op": "expect", "phase": phase, "count": count, "timeout": timeout})


def _send(sender: Workers, phase: str, count: int, interval: float) -> None:
    sender.send({"op": "send", "phase": phase, "count": count, "interval": interval, "size": 256})


def _warm(receivers: list[Workers], sender: Workers, members: int) -> None:
    """Broadcast until a whole round reaches every member (all have joined, everywhere)."""
    for attempt in range(10):
        _expect(receivers, f"warm{attempt}", 3, 5.0)
        _send(sender, f"warm{attempt}", 3, 0.0)
        sender.gather(timeout=35)
        got = sum(r["received"] for group in receivers for r in group.gather(timeout=35))
        if got == 3 * members:
            return
        time.sleep(0.3)


def _burst(
    receivers: Workers, sender: Workers, phase: str, messages: int, pids: list[int], redis: int
) -> tuple[float, float, int, float, dict[int, float], float]:
    """One burst: (server CPU, Redis CPU, delivered, wall, latency per message, client CPU)."""
    for pid in pids:
        wait_until_quiet(pid)
    clients = [process.pid for process in receivers.processes if process.pid is not None]
    cpu_before, clients_before = _cpu(pids), _cpu(clients)
    redis_before = cpu_seconds(redis) if redis else 0.0
    _expect([receivers], phase, messages, 240.0)
    _send(sender, phase, messages, 0.0)
    sent = sender.gather(timeout=270)[0]
    got = receivers.gather(timeout=270)
    cpu, client_cpu = _cpu(pids) - cpu_before, _cpu(clients) - clients_before
    redis_cpu = cpu_seconds(redis) - redis_before if redis else 0.0
    latency: dict[int, float] = {}
    for result in got:
        for seq, value in result["latency"].items():
            latency[seq] = max(latency.get(seq, 0.0), value)
    delivered = sum(result["received"] for result in got)
    wall = max(result["last"] for result in got) - sent["start"]
    return cpu, redis_cpu, delivered, wall, latency, client_cpu


def _fanout(ctx: FeatureContext, server: str, process: ServerProcess, redis_pid: int | None) -> Row:
    messages, rounds = (100, 1) if ctx.quick else (1000, 3)
    params = [
        {"port": process.port, "path": "/room", "clients": n, "deadline": 600.0}
        for n in _split(MEMBERS, ctx.profile.client_processes)
    ]
    with (
        Workers("receivers", params, ctx.client_loop) as receivers,
        Workers("sender", [{"port": process.port, "path": "/room", "deadline": 600.0}]) as sender,
    ):
        receivers.gather(timeout=180)
        sender.gather(timeout=30)
        _warm([receivers], sender, MEMBERS)
        pids = _tree(process.pid)
        results = [
            _burst(receivers, sender, f"burst{n}", messages, pids, redis_pid or 0)
            for n in range(rounds)
        ]
        receivers.send({"op": "stop"})
        sender.send({"op": "stop"})
    # The median round by CPU per delivered message: one busy moment on a shared
    # machine does not move the result.
    results.sort(key=lambda one: one[0] / max(one[2], 1))
    cpu, redis_cpu, delivered, wall, latency, client_cpu = results[len(results) // 2]
    expected = messages * MEMBERS
    notes = [f"{len(pids) - 1} workers" if len(pids) > 1 else "one process"]
    if rounds > 1:
        spread = ", ".join(f"{one[0] / max(one[2], 1) * 1e6:.2f}" for one in results)
        notes.append(f"rounds {spread} us")
    if redis_pid:
        notes.append(f"redis-server {redis_cpu / messages * 1e6:.0f} us/broadcast")
    notes.append(f"load generators {client_cpu / max(delivered, 1) * 1e6:.2f} us/delivered")
    if delivered != expected:
        notes.append(f"{delivered} of {expected} delivered")
    return Row(
        SCENARIO,
        server,
        {
            "cpu_us": cpu / max(delivered, 1) * 1e6,
            "rate": delivered / max(wall, 1e-9),
            "p50_ms": _percentile(list(latency.values()), 0.5) * 1e3,
            "p99_ms": _percentile(list(latency.values()), 0.99) * 1e3,
            "messages": delivered,
            "redis_us_per_broadcast": redis_cpu / messages * 1e6,
            "client_cpu_us": client_cpu / max(delivered, 1) * 1e6,
        },
        "; ".join(notes),
    )


def _hop(
    ctx: FeatureContext,
    first: ServerProcess,
    second: ServerProcess,
    redis_pid: int,
    members: int,
    interval: float,
) -> list[Row]:
    count = int((1.0 if ctx.quick else 6.0) / interval)
    groups = [
        Workers("receivers", [{"port": p.port, "path": "/room", "clients": members}])
        for p in (first, second)
    ]
    with (
        groups[0] as here,
        groups[1] as there,
        Workers("sender", [{"port": first.port, "path": "/room", "deadline": 600.0}]) as sender,
    ):
        here.gather(timeout=60)
        there.gather(timeout=60)
        sender.gather(timeout=30)
        _warm([here, there], sender, 2 * members)
        pids = [first.pid, second.pid, redis_pid]
        for pid in pids:
            wait_until_quiet(pid)
        before = [cpu_seconds(pid) for pid in pids]
        _expect([here, there], "paced", count, 120.0)
        _send(sender, "paced", count, interval)
        sender.gather(timeout=150)
        local, remote = here.gather(timeout=150)[0], there.gather(timeout=150)[0]
        per_broadcast = [
            (cpu_seconds(pid) - was) / count * 1e6 for pid, was in zip(pids, before, strict=True)
        ]
        for group in (here, there, sender):
            group.send({"op": "stop"})
    rows = []
    for name, result, cpu in (
        (f"same process, {members}", local, per_broadcast[0]),
        (f"other process, {members}", remote, per_broadcast[1]),
    ):
        values = list(result["latency"].values())
        rows.append(
            Row(
                HOP,
                name,
                {
                    "p50_ms": _percentile(values, 0.5) * 1e3,
                    "p99_ms": _percentile(values, 0.99) * 1e3,
                    "messages": result["received"],
                    "cpu_us_per_broadcast": cpu,
                },
                f"{members} member(s), last one's latency, {count} paced;"
                f" process CPU {cpu:.0f} us/broadcast",
            )
        )
    added = [
        remote["latency"][seq] - local["latency"][seq]
        for seq in local["latency"]
        if seq in remote["latency"]
    ]
    rows.append(
        Row(
            HOP,
            f"added by the Redis hop, {members}",
            {
                "p50_ms": _percentile(added, 0.5) * 1e3,
                "p99_ms": _percentile(added, 0.99) * 1e3,
                "redis_us_per_broadcast": per_broadcast[2],
            },
            "per message: other process minus same process;"
            f" redis-server CPU {per_broadcast[2]:.0f} us/broadcast",
        )
    )
    return rows


def run(ctx: FeatureContext) -> list[Row]:
    """Measure the broadcast rows and the hop latency."""
    missing = _missing()
    if missing:
        return [Row(SCENARIO, "mockws", {}, f"skipped: {missing}")]
    ctx.work.mkdir(parents=True, exist_ok=True)
    peers = {peer.name: peer for peer in all_peers()}
    mockws, aiohttp = peers["mockws"], peers["aiohttp"]
    workers = replace(mockws, name="mockws --workers 2", argv=(*mockws.argv, "--workers", "2"))
    rows: list[Row] = []
    plain = _config(ctx.work, "plain", None)
    with ServerProcess(aiohttp, log=ctx.logs / "broker-aiohttp.log") as server:
        ctx.log("broker: raw aiohttp, one process")
        rows.append(_fanout(ctx, "aiohttp", server, None))
    with ServerProcess(mockws, plain, log=ctx.logs / "broker-mockws.log") as server:
        ctx.log("broker: mockws, one process, in-process broker")
        rows.append(_fanout(ctx, "mockws", server, None))
    with _redis(ctx.work) as (redis_port, redis_pid):
        shared = _config(ctx.work, "redis", f"redis://127.0.0.1:{redis_port}/0")
        with ServerProcess(mockws, shared, log=ctx.logs / "broker-mockws-redis.log") as server:
            ctx.log("broker: mockws, one process, Redis broker")
            rows.append(_fanout(ctx, "mockws+redis", server, redis_pid))
        with ServerProcess(workers, shared, log=ctx.logs / "broker-workers.log") as server:
            ctx.log("broker: mockws --workers 2")
            rows.append(_fanout(ctx, "mockws --workers 2", server, redis_pid))
        with (
            ServerProcess(mockws, shared, log=ctx.logs / "broker-hop-1.log") as first,
            ServerProcess(mockws, shared, log=ctx.logs / "broker-hop-2.log") as second,
        ):
            ctx.log("broker: the latency of a Redis hop")
            rows += _hop(ctx, first, second, redis_pid, HOP_MEMBERS, 0.02)
            # One member a side: the hop alone, and each process's fixed cost per broadcast.
            rows += _hop(ctx, first, second, redis_pid, 1, 0.005)
    one = next((row for row in rows if row.server == "mockws"), None)
    for row in rows:
        if row.scenario == SCENARIO and one is not None and row is not one and row.metrics:
            cpu = row.metrics["cpu_us"] / one.metrics["cpu_us"]
            rate = row.metrics["rate"] / one.metrics["rate"]
            row.note += f"; vs one mockws process: CPU/delivered {cpu:.2f}x, rate {rate:.2f}x"
    return rows
