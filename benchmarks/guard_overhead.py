"""Cost of the frame scanner (mockws/inbound.py) on incoming messages.

Usage::

    python benchmarks/guard_overhead.py [--messages 20000] [--size 32] [--rounds 3]

One client pipelines small messages to an echo endpoint and waits for every
echo; the run is repeated with the scanner replaced by a pass-through. Prints
messages per second for both and the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from mockws.testing import run_server
from mockws.wire.inbound import FrameScanner

ECHO = "async def on_message(conn, data):\n    await conn.send(data)\n"


async def echo_rate(folder: Path, messages: int, size: int) -> float:
    """Messages per second for one pipelining client."""
    config = {
        "reload": False,
        "limits": {"slow_hook_warning": 0},
        "endpoints": [{"pattern": "/e", "handler": "bench_echo.py", "parse_json": False}],
    }
    async with run_server(config, base_dir=folder, timeout=60) as server:
        client = await server.connect("/e")
        payload = "x" * size
        started = time.perf_counter()
        sender = asyncio.create_task(_send(client, payload, messages))
        for _ in range(messages):
            await client.socket.receive()
        await sender
        return messages / (time.perf_counter() - started)


async def _send(client: object, payload: str, messages: int) -> None:
    socket = client.socket  # type: ignore[attr-defined]
    for _ in range(messages):
        await socket.send_str(payload)


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scan = FrameScanner.scan
    results: dict[str, list[float]] = {"scanner": [], "pass-through": []}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        (folder / "bench_echo.py").write_text(ECHO)
        for _ in range(args.rounds):
            for label in results:
                FrameScanner.scan = scan if label == "scanner" else _pass_through  # type: ignore[method-assign]
                results[label].append(asyncio.run(echo_rate(folder, args.messages, args.size)))
    FrameScanner.scan = scan  # type: ignore[method-assign]
    rates = {label: statistics.median(values) for label, values in results.items()}
    for label, rate in rates.items():
        print(f"{label:>13}: {rate:9.0f} messages/s (median of {args.rounds})")
    change = rates["scanner"] / rates["pass-through"] - 1
    print(f"scanner cost: {change:+.1%} messages/s ({args.size}-byte messages)")


def _pass_through(self: FrameScanner, data: bytes) -> int:
    return len(data)


if __name__ == "__main__":
    main()
