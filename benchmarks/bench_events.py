"""What the event feed costs the message hot path.

Measures ``Connection.send`` and ``Hub.broadcast`` (to 1,000 connections)
with nobody listening, with a connection-events-only subscriber (the log
lines without --log-messages), and with a message subscriber (the inspector
open, or --log-messages). Connections write to a transport that discards
bytes, so the numbers are the server's own work per message.

    python benchmarks/bench_events.py
    PYTHONPATH=/path/to/older/checkout python benchmarks/bench_events.py   # compare

Works against a mockws without the event bus too (it then measures only
"nobody listening"), which is how the before/after comparison is made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from mockws.hub.connection import Connection
from mockws.hub.hub import Hub
from mockws.wire.outbox import FlushScheduler, Outbox

MESSAGE = {"type": "update", "tick": 1, "users_online": 12, "cpu": 41.5}
SENDS = 50_000
BROADCASTS = 500
FANOUT = 1_000
ROUNDS = 5


class NullTransport:
    """A transport that accepts every write and keeps nothing."""

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def write(self, data: bytes) -> None:
        pass


def make_connections(hub: Hub, scheduler: FlushScheduler, count: int) -> list[Connection]:
    endpoint = SimpleNamespace(pattern="/ws", config=SimpleNamespace(parse_json=True))
    conns = []
    for index in range(count):
        request = SimpleNamespace(path="/ws", path_qs="/ws", remote="127.0.0.1")
        conn = Connection(
            conn_id=f"c{index}",
            hub=hub,
            endpoint=endpoint,  # type: ignore[arg-type]
            request=request,  # type: ignore[arg-type]
            socket=SimpleNamespace(ws_protocol=None, closed=False),  # type: ignore[arg-type]
            outbox=Outbox(NullTransport(), scheduler),  # type: ignore[arg-type]
            params={},
            query={},
        )
        hub.register(conn)
        conns.append(conn)
    return conns


async def time_sends(conn: Connection) -> float:
    """Seconds per send over one round."""
    started = time.perf_counter()
    for index in range(SENDS):
        await conn.send(MESSAGE)
        if index % 100 == 99:
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    return (time.perf_counter() - started) / SENDS


async def time_broadcasts(hub: Hub) -> float:
    """Seconds per broadcast to FANOUT connections over one round."""
    started = time.perf_counter()
    for _ in range(BROADCASTS):
        await hub.broadcast(MESSAGE)
        await asyncio.sleep(0)
    return (time.perf_counter() - started) / BROADCASTS


def subscribe(hub: Hub, messages: bool) -> Callable[[], None] | None:
    bus = getattr(hub, "events", None)
    if bus is None:
        return None
    received: list[Any] = []
    return bus.subscribe(received.append, messages=messages)  # type: ignore[no-any-return]


async def main() -> None:
    scheduler = FlushScheduler(asyncio.get_running_loop())
    hub = Hub()
    single = make_connections(hub, scheduler, 1)[0]
    fanout_hub = Hub()
    make_connections(fanout_hub, scheduler, FANOUT)
    has_bus = hasattr(hub, "events")
    scenarios: list[tuple[str, bool | None]] = [("nobody listening", None)]
    if has_bus:
        scenarios += [("connection events only", False), ("message events", True)]
    await time_sends(single)  # warm-up
    best: dict[str, tuple[float, float]] = {}
    # Rounds interleave the scenarios so that drift in machine load hits them alike.
    for _ in range(ROUNDS):
        for name, messages in scenarios:
            stops = []
            if messages is not None:
                stops = [subscribe(hub, messages), subscribe(fanout_hub, messages)]
            send = await time_sends(single)
            broadcast = await time_broadcasts(fanout_hub)
            for stop in stops:
                if stop is not None:
                    stop()
            old = best.get(name, (send, broadcast))
            best[name] = (min(old[0], send), min(old[1], broadcast))
    print(f"mockws event bus present: {has_bus}")
    print(f"{'scenario':<24} {'send (us)':>10} {f'broadcast x{FANOUT} (us)':>22}")
    for name, (send, broadcast) in best.items():
        print(f"{name:<24} {send * 1e6:>10.2f} {broadcast * 1e6:>22.1f}")
    print(f"(best of {ROUNDS} interleaved rounds of {SENDS} sends and {BROADCASTS} broadcasts)")


if __name__ == "__main__":
    asyncio.run(main())
