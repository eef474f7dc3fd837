"""What per-message compression costs a broadcast, and what it saves on the wire.

Starts an in-process server on a free loopback port, connects CLIENTS aiohttp
clients that negotiate permessage-deflate, and broadcasts MESSAGES messages
to all of them, with compression off and on, above and below the threshold.
Reports the server time spent inside ``hub.broadcast`` (framing, per-recipient
compression, queueing), the wall time until every client has read every
message, and the bytes of one frame on the wire.

    python benchmarks/compression.py [--clients 100] [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from mockws.testing import run_server
from mockws.wire.deflate import Deflater
from mockws.wire.frames import build_frame

THRESHOLD = 1024


def event(size: int, serial: int) -> dict[str, object]:
    """A JSON event of about ``size`` bytes, shaped like a feed page; each serial differs."""
    items: list[dict[str, object]] = []
    while len(json.dumps(items, separators=(",", ":"))) < size - 40:
        n = serial * 1000 + len(items)
        items.append({"id": n, "user": f"user{n % 17}", "text": f"Build #{n} took {n % 97}s"})
    return {"type": "feed", "page": serial, "items": items}


def wire_bytes(events: list[dict[str, object]], compress: bool) -> float:
    """Mean frame size of ``events`` as one connection's compressor sends them."""
    deflater = Deflater(threshold=THRESHOLD) if compress else None
    total = 0
    for data in events:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        if deflater is not None and len(payload) >= THRESHOLD:
            total += len(deflater.frame(1, payload))
        else:
            total += len(build_frame(1, payload))
    return total / len(events)


async def measure(compress: bool, size: int, clients: int, messages: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "bench_handler.py").write_text("")
        compression = {"enabled": compress, "threshold": THRESHOLD}
        config = {
            "endpoints": [
                {"pattern": "/b", "handler": "bench_handler.py", "compression": compression}
            ]
        }
        async with run_server(config, base_dir=Path(folder), timeout=60) as server:
            connected = [await server.connect("/b", compress=15) for _ in range(clients)]

            async def drain(index: int) -> None:
                for _ in range(messages):
                    await connected[index].receive(timeout=60)

            readers = [asyncio.create_task(drain(index)) for index in range(clients)]
            events = [event(size, serial) for serial in range(messages)]
            inside = 0.0
            started = time.perf_counter()
            for data in events:
                before = time.perf_counter()
                await server.hub.broadcast(data)
                inside += time.perf_counter() - before
                await asyncio.sleep(0)
            await asyncio.gather(*readers)
            wall = time.perf_counter() - started
    return {
        "payload": sum(len(json.dumps(e, separators=(",", ":"))) for e in events) / messages,
        "wire": wire_bytes(events, compress),
        "broadcast_us": inside / messages * 1e6,
        "per_recipient_us": inside / messages / clients * 1e6,
        "wall_s": wall,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(
        f"{args.clients} clients x {args.messages} broadcasts, threshold {THRESHOLD} bytes\n"
        f"{'case':<28}{'payload':>8}{'wire':>8}{'broadcast':>12}{'per client':>12}{'wall':>8}"
    )
    for label, compress, size in [
        ("4 KiB, compression off", False, 4096),
        ("4 KiB, compression on", True, 4096),
        ("200 B, compression off", False, 200),
        ("200 B, on (under threshold)", True, 200),
    ]:
        result = await measure(compress, size, args.clients, args.messages)
        print(
            f"{label:<28}{result['payload']:>7.0f}B{result['wire']:>7.0f}B"
            f"{result['broadcast_us']:>10.0f}us{result['per_recipient_us']:>10.1f}us"
            f"{result['wall_s']:>7.2f}s"
        )
    print("(payload, wire: mean bytes per message; broadcast, per client: time in hub.broadcast)")


if __name__ == "__main__":
    asyncio.run(main())
