"""Fault building blocks: seeded chance, ordered delay, silence, reset (wire/faults.py)."""

from __future__ import annotations

import asyncio
import socket
import struct

from mockws.config.durations import DurationRange
from mockws.wire.faults import DelayLine, FaultRandom, SilentTransport, reset_on_close


def test_a_seed_repeats_its_choices_and_streams_are_separate() -> None:
    """The same seed draws the same drops; drawing delays does not shift the drops."""
    one, two = FaultRandom(5), FaultRandom(5)
    span = DurationRange(0.0, 1.0)
    first = [one.chance(0.5) for _ in range(200)]
    second = []
    for _ in range(200):
        two.delay(span)
        second.append(two.chance(0.5))
    assert first == second
    assert first != [FaultRandom(6).chance(0.5) for _ in range(200)]
    assert all(0.0 <= two.delay(span) <= 1.0 for _ in range(100))


def test_chance_at_the_ends_and_fixed_delays() -> None:
    """Probability 0 never and 1 always; a fixed range is its value."""
    chance = FaultRandom()
    assert not any(chance.chance(0) for _ in range(100))
    assert all(chance.chance(1) for _ in range(100))
    assert chance.delay(DurationRange(0.25, 0.25)) == 0.25


async def test_a_delay_line_keeps_order_and_waits() -> None:
    """Items leave in the order put, none early, a short delay behind a longer one."""
    loop = asyncio.get_running_loop()
    out: list[tuple[str, float]] = []
    line: DelayLine[str] = DelayLine(loop, lambda item: out.append((item, loop.time())))
    start = loop.time()
    line.put("slow", 0.15)
    line.put("fast", 0.01)
    line.put("mid", 0.05)
    assert len(line) == 3
    await asyncio.sleep(0.3)
    assert [item for item, _ in out] == ["slow", "fast", "mid"]
    assert all(at - start >= 0.15 for _, at in out)
    assert len(line) == 0


async def test_drain_releases_now_and_clear_forgets() -> None:
    """drain() gives everything held at once, in order; clear() gives nothing."""
    loop = asyncio.get_running_loop()
    out: list[int] = []
    line: DelayLine[int] = DelayLine(loop, out.append)
    for n in range(3):
        line.put(n, 10)
    line.drain()
    assert out == [0, 1, 2]
    line.put(9, 0.01)
    line.clear()
    await asyncio.sleep(0.05)
    assert out == [0, 1, 2]


class _Recording:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False


def test_a_silent_transport_swallows_writes_only() -> None:
    """Writes vanish; everything else is the real transport's."""
    real = _Recording()
    silent = SilentTransport(real)  # type: ignore[arg-type]
    silent.write(b"x")
    silent.writelines([b"y"])
    assert real.written == []
    assert silent.is_closing() is False  # type: ignore[operator]


async def test_reset_on_close_sends_a_reset() -> None:
    """After reset_on_close, aborting the transport resets the peer's connection."""
    accepted: asyncio.Future[asyncio.Transport] = asyncio.get_running_loop().create_future()

    class Keep(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted.set_result(transport)  # type: ignore[arg-type]

    server = await asyncio.get_running_loop().create_server(Keep, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    transport = await asyncio.wait_for(accepted, 3)
    linger = transport.get_extra_info("socket")
    reset_on_close(transport)
    assert struct.unpack("ii", linger.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8)) == (1, 0)
    transport.abort()
    try:
        data = await asyncio.wait_for(reader.read(), 3)
        reset = False
    except ConnectionResetError:
        reset, data = True, b""
    assert reset and data == b""
    writer.close()
    server.close()
    await server.wait_closed()
