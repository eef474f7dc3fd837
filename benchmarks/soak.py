"""Soak test: connect/join/chat/leave/disconnect churn against `mockws serve`.

Usage::

    python benchmarks/soak.py            # 4 processes, 60,000 cycles, at most 5 minutes
    python benchmarks/soak.py --quick    # 2 processes, 5,000 cycles, under a minute (CI)

Several client processes run bounded cycles against one server on loopback:
connect, join a room, send chat messages until their own last one comes back
through the room broadcast, leave, disconnect. Afterwards the server must hold
no connection and no room, and its RSS must be back within a margin of what
it was after a warm-up round. Exits 1 when a check fails; prints the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
CYCLE_TIMEOUT = 10.0


@dataclass
class Plan:
    """How much churn to run."""

    processes: int
    concurrency: int
    cycles: int
    messages: int
    rooms: int
    deadline: float
    warmup: int


FULL = Plan(
    processes=4, concurrency=25, cycles=60_000, messages=5, rooms=50, deadline=300, warmup=1000
)
QUICK = Plan(
    processes=2, concurrency=20, cycles=5_000, messages=3, rooms=20, deadline=40, warmup=500
)


def rss_kib(pid: int) -> int:
    """Resident set size of process ``pid`` in KiB (Linux /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1))


async def one_cycle(
    session: aiohttp.ClientSession, url: str, rng: random.Random, plan: Plan
) -> None:
    """Connect, join, chat until our own last message comes back, leave, disconnect."""
    async with session.ws_connect(url, autoclose=True) as ws:
        room = f"room-{rng.randrange(plan.rooms)}"
        marker = f"{os.getpid()}-{rng.random()}"
        await ws.send_json({"op": "join", "room": room})
        for number in range(plan.messages):
            await ws.send_json({"op": "chat", "room": room, "from": marker, "n": number})
        while True:
            message = await ws.receive_json()
            if message.get("from") == marker and message.get("n") == plan.messages - 1:
                break
        await ws.send_json({"op": "leave", "room": room})


async def run_worker(url: str, cycles: int, plan: Plan, seed: int) -> dict[str, float]:
    """Run ``cycles`` cycles with ``plan.concurrency`` at a time; return counts."""
    rng = random.Random(seed)
    done = failed = 0
    deadline = time.monotonic() + plan.deadline
    remaining = cycles

    async def lane(session: aiohttp.ClientSession) -> None:
        nonlocal done, failed, remaining
        while remaining > 0 and time.monotonic() < deadline:
            remaining -= 1
            try:
                await asyncio.wait_for(one_cycle(session, url, rng, plan), CYCLE_TIMEOUT)
                done += 1
            except (TimeoutError, aiohttp.ClientError, OSError):
                failed += 1

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(lane(session) for _ in range(plan.concurrency)))
    return {"done": done, "failed": failed, "unfinished": max(remaining, 0)}


def worker(url: str, cycles: int, plan: Plan, seed: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Process entry point."""
    results.put(asyncio.run(run_worker(url, cycles, plan, seed)))


def churn(url: str, cycles: int, plan: Plan) -> dict[str, float]:
    """Run ``cycles`` cycles spread over ``plan.processes`` processes; return the totals."""
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    share = -(-cycles // plan.processes)
    processes = [
        context.Process(target=worker, args=(url, share, plan, seed, results))
        for seed in range(plan.processes)
    ]
    for process in processes:
        process.start()
    totals = {"done": 0.0, "failed": 0.0, "unfinished": 0.0}
    for _ in processes:
        for key, value in results.get(timeout=plan.deadline + 60).items():
            totals[key] += value
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    return totals


async def hub_stats(url: str) -> dict[str, int]:
    """Ask the soak handler how many other connections and rooms the hub holds."""
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.send_json({"op": "stats"})
        return dict(await asyncio.wait_for(ws.receive_json(), 5))


def start_server(folder: Path) -> tuple[subprocess.Popen[str], int]:
    """Start `mockws serve` with the soak handler on a free port."""
    config = folder / "soak.yaml"
    config.write_text(
        "reload: false\nlimits: {slow_hook_warning: 0}\n"
        f"endpoints:\n  - pattern: /soak\n    handler: {HERE / 'soak_chat.py'}\n"
    )
    command = [sys.executable, "-m", "mockws", "serve", "--config", str(config), "--port", "0"]
    command += ["--no-reload", "--log-level", "error"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        found = re.search(r"ready on \S+:(\d+)", line)
        if found:
            return process, int(found.group(1))
    sys.exit(f"mockws serve did not start (exit code {process.wait()})")


def main(argv: list[str] | None = None) -> int:
    """Run the soak and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short CI version")
    parser.add_argument("--cycles", type=int, help="override the number of cycles")
    parser.add_argument(
        "--rss-margin", type=float, default=0.15, help="allowed RSS growth (fraction)"
    )
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    cycles = args.cycles or plan.cycles
    with tempfile.TemporaryDirectory() as folder:
        server, port = start_server(Path(folder))
        url = f"http://127.0.0.1:{port}/soak"
        try:
            return _soak(server.pid, url, plan, cycles, args.rss_margin)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()


def _soak(pid: int, url: str, plan: Plan, cycles: int, rss_margin: float) -> int:
    started_rss = rss_kib(pid)
    warm = churn(url, plan.warmup, plan)
    time.sleep(1.0)
    baseline = rss_kib(pid)
    began = time.monotonic()
    totals = churn(url, cycles, plan)
    elapsed = time.monotonic() - began
    time.sleep(1.0)
    stats = asyncio.run(hub_stats(url))
    final = rss_kib(pid)
    limit = baseline * (1 + rss_margin) + 4096
    report = {
        "cycles_done": totals["done"],
        "cycles_failed": totals["failed"] + warm["failed"],
        "cycles_unfinished": totals["unfinished"],
        "seconds": round(elapsed, 1),
        "cycles_per_second": round(totals["done"] / elapsed, 1),
        "rss_kib": {"start": started_rss, "after_warmup": baseline, "end": final},
        "hub_after": stats,
    }
    print(json.dumps(report, indent=2))
    problems = []
    if stats != {"connections": 0, "rooms": 0}:
        problems.append(f"the hub still holds {stats}")
    if final > limit:
        problems.append(f"RSS grew from {baseline} KiB to {final} KiB (limit {limit:.0f})")
    if report["cycles_failed"] or totals["done"] < cycles * 0.9:
        problems.append(f"{report['cycles_failed']:.0f} cycles failed, {totals['done']:.0f} done")
    for problem in problems:
        print(f"soak: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
