"""The measured scenarios: each drives one running server and returns rows.

The main metric is the server's CPU time (utime + stime from /proc) over
the measured window, divided by the messages it handled or delivered; the
load comes from :mod:`benchmarks.loadgen` processes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from .loadgen import Workers
from .procstat import cpu_seconds, rss_bytes, wait_until_quiet

__all__ = ["Profile", "Row", "broadcast", "echo", "handshakes", "idle_memory", "slow_reader"]


@dataclass(frozen=True)
class Profile:
    """How much load each scenario applies (``--quick`` or the full run)."""

    name: str
    echo_clients: int
    echo_messages: int
    echo_warmup: int
    fanouts: tuple[tuple[int, int], ...]
    paced: tuple[int, int, float]
    idle_clients: int
    handshakes: int
    startup_runs: int
    slow_reader_messages: int
    echo_rounds: int = 1
    client_processes: int = 2


FULL = Profile(
    name="full",
    echo_clients=50,
    echo_messages=600,
    echo_warmup=50,
    echo_rounds=3,
    fanouts=((1000, 200), (5000, 40)),
    paced=(1000, 40, 0.05),
    idle_clients=10_000,
    handshakes=3000,
    startup_runs=5,
    slow_reader_messages=100_000,
)
QUICK = Profile(
    name="quick",
    echo_clients=50,
    echo_messages=100,
    echo_warmup=10,
    fanouts=((1000, 20),),
    paced=(1000, 6, 0.05),
    idle_clients=500,
    handshakes=300,
    startup_runs=2,
    slow_reader_messages=10_000,
)


@dataclass
class Row:
    """One measured result: a scenario, a server and its numbers."""

    scenario: str
    server: str
    metrics: dict[str, float] = field(default_factory=dict)
    note: str = ""


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def echo(pid: int, port: int, profile: Profile, server: str, loop: str) -> Row:
    """Scenario 1: closed-loop echo of 128-byte JSON messages."""
    params = [
        {
            "port": port,
            "path": "/echo",
            "clients": n,
            "messages": profile.echo_messages,
            "warmup": profile.echo_warmup,
            "size": 128,
            "timeout": 240.0,
            "deadline": 300.0,
        }
        for n in _split(profile.echo_clients, profile.client_processes)
    ]
    rounds: list[tuple[float, float, int, list[float]]] = []  # cpu/msg, rate, count, rtts
    with Workers("echo", [{**one, "rounds": profile.echo_rounds} for one in params], loop) as w:
        w.gather(timeout=120)
        for _ in range(profile.echo_rounds):
            wait_until_quiet(pid)
            cpu_before, started = cpu_seconds(pid), time.monotonic()
            w.send("go")
            results = w.gather(timeout=300)
            cpu, wall = cpu_seconds(pid) - cpu_before, time.monotonic() - started
            count = sum(result["count"] for result in results)
            rtts = [rtt for result in results for rtt in result["rtts"]]
            rounds.append((cpu / max(count, 1) * 1e6, count / wall, count, rtts))
    # The median round by CPU per message: one busy moment on a shared machine
    # does not move the result.
    cpu_us, rate, count, rtts = sorted(rounds, key=lambda one: one[0])[len(rounds) // 2]
    expected = profile.echo_clients * profile.echo_messages
    spread = f"rounds {', '.join(f'{one[0]:.1f}' for one in rounds)} us" if len(rounds) > 1 else ""
    return Row(
        "echo",
        server,
        {
            "cpu_us": cpu_us,
            "rate": rate,
            "p50_ms": _percentile(rtts, 0.5) * 1e3,
            "p99_ms": _percentile(rtts, 0.99) * 1e3,
            "messages": count,
        },
        spread if count == expected else f"only {count} of {expected} echoed",
    )


def _phase(
    receivers: Workers, sender: Workers, name: str, count: int, interval: float, timeout: float
) -> dict[str, Any]:
    receivers.send({"op": "expect", "phase": name, "count": count, "timeout": timeout})
    sender.send({"op": "send", "phase": name, "count": count, "interval": interval, "size": 256})
    sent = sender.gather(timeout=timeout + 30)[0]
    got = receivers.gather(timeout=timeout + 30)
    latency: dict[int, float] = {}
    for result in got:
        for seq, value in result["latency"].items():
            latency[seq] = max(latency.get(seq, 0.0), value)
    return {
        "received": sum(result["received"] for result in got),
        "latency": list(latency.values()),
        "wall": max(result["last"] for result in got) - sent["start"],
    }


def broadcast(pid: int, port: int, profile: Profile, server: str, loop: str) -> list[Row]:
    """Scenario 2: one sender, N room members; per delivered message CPU and latency."""
    rows = []
    for clients, messages in profile.fanouts:
        wait_until_quiet(pid)
        params = [
            {"port": port, "path": "/room", "clients": n, "deadline": 600.0}
            for n in _split(clients, profile.client_processes)
        ]
        with (
            Workers("receivers", params, loop) as receivers,
            Workers("sender", [{"port": port, "path": "/room", "deadline": 600.0}]) as sender,
        ):
            receivers.gather(timeout=180)
            sender.gather(timeout=30)
            for attempt in range(5):
                # Every member has joined once a whole warm-up round reaches everyone.
                warm = _phase(receivers, sender, f"warm{attempt}", 3, 0.0, 5.0)
                if warm["received"] == 3 * clients:
                    break
            phases = [("burst", messages, 0.0)]
            if clients == profile.paced[0]:
                phases.append(("paced", profile.paced[1], profile.paced[2]))
            for name, count, interval in phases:
                wait_until_quiet(pid)
                cpu_before = cpu_seconds(pid)
                result = _phase(receivers, sender, name, count, interval, 240.0)
                cpu = cpu_seconds(pid) - cpu_before
                delivered = result["received"]
                expected = count * clients
                scenario = f"broadcast {clients}" + (" paced" if interval else "")
                rows.append(
                    Row(
                        scenario,
                        server,
                        {
                            "cpu_us": cpu / max(delivered, 1) * 1e6,
                            "rate": delivered / max(result["wall"], 1e-9),
                            "p50_ms": _percentile(result["latency"], 0.5) * 1e3,
                            "p99_ms": _percentile(result["latency"], 0.99) * 1e3,
                            "messages": delivered,
                        },
                        "" if delivered == expected else f"{delivered} of {expected} delivered",
                    )
                )
            receivers.send({"op": "stop"})
            sender.send({"op": "stop"})
    return rows


def idle_memory(
    pid: int,
    port: int,
    profile: Profile,
    server: str,
    loop: str,
    *,
    headers: str = "",
    scenario: str = "idle",
) -> Row:
    """Scenario 3: server RSS growth per open idle connection."""
    base = {"port": port, "path": "/echo", "headers": headers, "timeout": 120.0, "deadline": 600.0}
    with Workers("idle", [{**base, "clients": 100}], loop) as warm:
        warm.gather(timeout=60)
        time.sleep(0.3)
        before = rss_bytes(pid)
        params = [{**base, "clients": n} for n in _split(profile.idle_clients, 2)]
        with Workers("idle", params, loop) as many:
            results = many.gather(timeout=240)
            time.sleep(0.5)
            after = rss_bytes(pid)
            many.send("close")
        warm.send("close")
    opened = sum(result["open"] for result in results)
    deflate = sum(result["deflate"] for result in results)
    note = f"{deflate} negotiated permessage-deflate" if headers else ""
    return Row(
        scenario,
        server,
        {
            "kib_per_conn": (after - before) / 1024 / max(opened, 1),
            "connections": opened,
            "rss_mib": after / 2**20,
        },
        note,
    )


def handshakes(
    pid: int,
    port: int,
    profile: Profile,
    server: str,
    loop: str,
    *,
    path: str = "/echo",
    scenario: str = "handshake",
) -> Row:
    """Scenario 4: connect, upgrade and close, a few at a time, from two processes."""
    params = [
        {
            "port": port,
            "path": path,
            "count": n,
            "concurrency": 4,
            "seconds": 120.0,
            "deadline": 300.0,
        }
        for n in _split(profile.handshakes, profile.client_processes)
    ]
    with Workers("handshakes", params, loop) as workers:
        workers.gather(timeout=30)
        cpu_before, started = cpu_seconds(pid), time.monotonic()
        workers.send("go")
        results = workers.gather(timeout=200)
        cpu, wall = cpu_seconds(pid) - cpu_before, time.monotonic() - started
    done = sum(result["done"] for result in results)
    failed = sum(result["failed"] for result in results)
    return Row(
        scenario,
        server,
        {
            "rate": done / wall,
            "cpu_us": cpu / max(done, 1) * 1e6,
            "handshakes": done,
        },
        f"{failed} failed" if failed else "",
    )


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def slow_reader(pid: int, port: int, profile: Profile, server: str, loop: str) -> Row:
    """A burst of broadcasts toward a client that reads nothing: server memory stays bounded."""
    count = profile.slow_reader_messages
    with (
        Workers("stalled", [{"port": port, "path": "/room", "deadline": 600.0}], loop) as stalled,
        Workers(
            "receivers", [{"port": port, "path": "/room", "clients": 1, "deadline": 600.0}], loop
        ) as probe,
        Workers("sender", [{"port": port, "path": "/room", "deadline": 600.0}]) as sender,
    ):
        stalled.gather(timeout=30)
        probe.gather(timeout=30)
        sender.gather(timeout=30)
        _phase(probe, sender, "warm", 3, 0.0, 5.0)
        before = rss_bytes(pid)
        peak_before = _peak_rss(pid)
        result = _phase(probe, sender, "flood", count, 0.0, 300.0)
        after, peak = rss_bytes(pid), _peak_rss(pid)
        probe.send({"op": "stop"})
        sender.send({"op": "stop"})
        stalled.send("stop")
    growth = max(after, peak if peak > peak_before else after) - before
    return Row(
        "slow reader",
        server,
        {
            "growth_mib": growth / 2**20,
            "rss_after_mib": (after - before) / 2**20,
            "messages": result["received"],
            "p50_ms": statistics.median(result["latency"]) * 1e3 if result["latency"] else 0.0,
        },
        f"{count} broadcasts toward a client that reads nothing; probe got {result['received']}",
    )
