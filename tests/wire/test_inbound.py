"""Fragment and incoming-queue limits (mockws/wire/inbound.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mockws.testing import run_server
from mockws.wire.inbound import FrameScanner

from ..helpers import WriteFile, endpoint, eventually, handler_module
from ..rawws import RawClient, frame, split


class FakeTransport:
    """Records flow control calls."""

    def __init__(self) -> None:
        self.reading = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return False


class Peer:
    """Stands for the connection's protocol (takes held bytes) and the connection (fails)."""

    def __init__(self) -> None:
        self.forwarded: list[bytes] = []
        self.failures: list[tuple[int, str]] = []

    def forward(self, data: bytes) -> None:
        self.forwarded.append(data)

    def fail(self, code: int, reason: str) -> bool:
        self.failures.append((code, reason))
        return True


def scanner() -> tuple[FrameScanner, FakeTransport, Peer]:
    transport, peer = FakeTransport(), Peer()
    return FrameScanner(transport, peer), transport, peer  # type: ignore[arg-type]


message_frames = st.lists(
    st.tuples(
        st.sampled_from([0x1, 0x2]),
        st.lists(st.binary(max_size=300), min_size=1, max_size=4),
        st.booleans(),
    ),
    max_size=6,
)


def wire(messages: list[tuple[int, list[bytes], bool]]) -> bytes:
    """Frames for each message: its fragments, with a ping between them if asked."""
    out = b""
    for opcode, fragments, ping in messages:
        for index, fragment in enumerate(fragments):
            last = index == len(fragments) - 1
            out += frame(opcode if index == 0 else 0x0, fragment, fin=last)
            if ping and not last:
                out += frame(0x9, b"ping")
    return out


@given(message_frames, st.lists(st.integers(0, 10**5), max_size=8))
def test_scanner_counts_messages_across_any_split(
    messages: list[tuple[int, list[bytes], bool]], cuts: list[int]
) -> None:
    """Without limits every byte passes, and each complete message is counted once."""
    frames, _, _ = scanner()
    for chunk in split(wire(messages), cuts):
        assert frames.scan(chunk) == len(chunk)
    assert frames.passed == len(messages)


@given(message_frames, st.lists(st.integers(0, 10**5), max_size=8), st.integers(1, 4), st.data())
def test_queue_limit_never_loses_or_reorders_bytes(
    messages: list[tuple[int, list[bytes], bool]],
    cuts: list[int],
    max_queue: int,
    data: st.DataObject,
) -> None:
    """Whatever the reads and the handler's pace, every byte reaches aiohttp once, in order."""
    frames, _, peer = scanner()
    frames.enforce(None, max_queue, peer)
    sent = wire(messages)
    out = peer.forwarded
    for chunk in split(sent, cuts):
        out.append(chunk[: frames.scan(chunk)])
        assert frames.passed - frames.taken <= max_queue
        for _ in range(data.draw(st.integers(0, frames.passed - frames.taken))):
            frames.take()
    while frames.passed > frames.taken:
        frames.take()
    assert b"".join(out) == sent and frames.passed == len(messages)


def test_too_many_fragments_fail_the_connection() -> None:
    """A message of max_fragments frames passes; one more fails with 1008."""
    frames, _, peer = scanner()
    frames.enforce(3, None, peer)
    ok = wire([(0x1, [b"a", b"b", b"c"], True)])
    assert frames.scan(ok) == len(ok) and peer.failures == []
    bad = wire([(0x2, [b"1", b"2", b"3", b"4"], False)])
    assert frames.scan(bad) == -1
    assert peer.failures == [(1008, "Message has more than 3 fragments")]
    assert frames.scan(b"more") == -1


def test_queue_limit_holds_bytes_back_until_the_handler_catches_up() -> None:
    """At max_queue unhandled messages the rest is held and reading paused; half-way it resumes."""
    frames, transport, peer = scanner()
    frames.enforce(None, 4, peer)
    one = frame(0x1, b"0123456789")
    forwarded = peer.forwarded
    assert frames.scan(one * 10) == 4 * len(one)
    assert not transport.reading
    assert frames.scan(one * 2) == 0
    frames.take()
    assert forwarded == [] and not transport.reading
    frames.take()
    assert forwarded == [one * 2] and not transport.reading
    for _ in range(2):
        frames.take()
    assert forwarded[-1] == one * 2 and frames.passed == 8
    for _ in range(4):
        frames.take()
    assert b"".join(forwarded) == one * 8
    assert frames.passed == 12 and not transport.reading
    for _ in range(2):
        frames.take()
    assert transport.reading and b"".join(forwarded) == one * 8


ECHO = """
import asyncio

CLOSED = []
RELEASE = asyncio.Event()


async def on_message(conn, data):
    if data == "wait":
        await RELEASE.wait()
    await conn.send(data)


async def on_close(conn, code, reason):
    CLOSED.append((code, reason))
"""


async def test_message_with_too_many_fragments_closes_1008(
    write: WriteFile, raw_clients: object
) -> None:
    """A client message past max_fragments closes with 1008; others keep being served."""
    base: Path = write("inbound_echo.py", ECHO).parent
    config = {"endpoints": [endpoint("/e", "inbound_echo.py", limits={"max_fragments": 8})]}
    async with run_server(config, base_dir=base) as server:
        bystander = await server.connect("/e")
        raw = await RawClient.upgrade(server.port, "/e")
        await raw.send(wire([(0x1, [b"x"] * 8, False)]))
        assert (await raw.read_frame()).payload == b"x" * 8
        await raw.send(wire([(0x1, [b"y"] * 9, False)]))
        assert await raw.read_close() == 1008
        closed = handler_module("inbound_echo").CLOSED
        await eventually(lambda: closed == [(1008, "Message has more than 8 fragments")])
        await bystander.send("fine")
        assert await bystander.receive() == "fine"


async def queue_state(write: WriteFile, max_queue: int) -> tuple[bool, list[Any]]:
    """Block the handler, send 100 messages; return whether the server kept reading, and echoes."""
    base: Path = write("inbound_echo.py", ECHO).parent
    limits = {"max_queue": max_queue}
    config = {"endpoints": [endpoint("/e", "inbound_echo.py", limits=limits)]}
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/e")
        await client.send("wait")
        for number in range(100):
            await client.send({"n": number})
        conn = next(iter(server.hub.connections.values()))
        transport = conn.request.transport
        await asyncio.sleep(0.2)
        reading = transport.is_reading()
        handler_module("inbound_echo").RELEASE.set()
        echoes = [await client.receive() for _ in range(101)]
        await eventually(transport.is_reading)
        return reading, echoes


async def test_full_incoming_queue_stops_reading_and_loses_nothing(write: WriteFile) -> None:
    """Past max_queue unhandled messages the server stops reading; all arrive once it catches up."""
    reading, echoes = await queue_state(write, max_queue=8)
    assert reading is False
    assert echoes == ["wait", *({"n": n} for n in range(100))]


async def test_without_queue_limit_the_server_keeps_reading(write: WriteFile) -> None:
    """The control case: with max_queue off, the same 100 small messages are all read at once."""
    reading, echoes = await queue_state(write, max_queue=0)
    assert reading is True
    assert echoes == ["wait", *({"n": n} for n in range(100))]
