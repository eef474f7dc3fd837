"""The opcode table and server frame building (mockws/wire/frames.py).

Frames are read back with tests/rawws.py's client decoder (which also checks
that the shortest length form is used and that server frames are unmasked),
and cross-checked with the websockets library's own frame parser.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from websockets.frames import Frame as WsFrame
from websockets.streams import StreamReader as WsStreamReader

from mockws.wire.close import close_payload
from mockws.wire.frames import (
    FIN,
    LENGTH_BITS,
    MASKED,
    OPCODE_BITS,
    RSV1,
    Opcode,
    build_frame,
)

from ..rawws import Frame, RawClient

LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70000]


async def decode(data: bytes) -> Frame:
    """Read ``data`` as one server frame with rawws, checking nothing is left over."""
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    client = RawClient(reader, writer=None)  # type: ignore[arg-type]  # only reads
    frame = await client.read_frame(timeout=1)
    assert await reader.read() == b"", "bytes left after the frame"
    return frame


def parse_with_websockets(data: bytes) -> WsFrame:
    """Parse ``data`` with the websockets library as a client parses a server frame."""
    reader = WsStreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = WsFrame.parse(reader.read_exact, mask=False, max_size=None, extensions=[])
    try:
        next(parser)
    except StopIteration as done:
        frame: WsFrame = done.value
        assert reader.at_eof()
        return frame
    raise AssertionError("the frame was incomplete")


def test_header_bits() -> None:
    """The header constants are RFC 6455 5.2's bit positions."""
    assert (FIN, RSV1, OPCODE_BITS, MASKED, LENGTH_BITS) == (0x80, 0x40, 0x0F, 0x80, 0x7F)


def test_opcode_values() -> None:
    """The opcode table holds RFC 6455's six defined opcodes."""
    assert {op.name: int(op) for op in Opcode} == {
        "CONTINUATION": 0x0,
        "TEXT": 0x1,
        "BINARY": 0x2,
        "CLOSE": 0x8,
        "PING": 0x9,
        "PONG": 0xA,
    }


@pytest.mark.parametrize("opcode", range(16))
def test_is_control_for_every_opcode(opcode: int) -> None:
    """Opcodes 0x8-0xF are control frames, 0x0-0x7 are not (reserved ones included)."""
    assert Opcode.is_control(opcode) is (opcode >= 0x8)


@pytest.mark.parametrize(
    ("length", "header"),
    [
        (0, b"\x82\x00"),
        (125, b"\x82\x7d"),
        (126, b"\x82\x7e\x00\x7e"),
        (65535, b"\x82\x7e\xff\xff"),
        (65536, b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
    ],
)
def test_header_forms_at_the_length_boundaries(length: int, header: bytes) -> None:
    """7-bit lengths up to 125, 16-bit to 65535, 64-bit beyond, in network byte order."""
    payload = bytes(index % 251 for index in range(length))
    frame = build_frame(Opcode.BINARY, payload)
    assert frame[: len(header)] == header
    assert frame[len(header) :] == payload


@pytest.mark.parametrize("length", LENGTHS)
async def test_frames_decode_back_to_their_payload(length: int) -> None:
    """A built frame is final, unmasked, uncompressed and carries the payload exactly."""
    payload = bytes(index % 256 for index in range(length))
    frame = await decode(build_frame(Opcode.BINARY, payload))
    assert (frame.fin, frame.rsv1, frame.opcode) == (True, False, Opcode.BINARY)
    assert frame.payload == payload


@pytest.mark.parametrize("length", LENGTHS)
def test_websockets_parses_built_frames(length: int) -> None:
    """The websockets library reads each built frame with its payload and FIN set."""
    payload = b"x" * length
    frame = parse_with_websockets(build_frame(Opcode.TEXT, payload))
    assert (frame.fin, frame.rsv1, frame.rsv2, frame.rsv3) == (True, False, False, False)
    assert int(frame.opcode) == Opcode.TEXT
    assert frame.data == payload


@pytest.mark.parametrize("opcode", list(Opcode))
async def test_every_opcode_is_kept_with_fin_set(opcode: Opcode) -> None:
    """Each opcode lands in the low four bits of a final frame."""
    frame = await decode(build_frame(opcode, b"ab"))
    assert (frame.opcode, frame.fin) == (opcode, True)


def test_server_frames_are_never_masked() -> None:
    """The mask bit is clear at every length form, and no masking key follows."""
    for length in (0, 126, 65536):
        frame = build_frame(Opcode.TEXT, b"m" * length)
        assert not frame[1] & MASKED
        assert len(frame) - length in (2, 4, 10)


@pytest.mark.parametrize("length", [0, 5, 300, 70000])
async def test_rsv1_marks_a_compressed_frame(length: int) -> None:
    """rsv1=True sets only RSV1; RSV2 and RSV3 stay clear, the length form is unchanged."""
    plain = build_frame(Opcode.TEXT, b"z" * length)
    compressed = build_frame(Opcode.TEXT, b"z" * length, rsv1=True)
    assert compressed[0] == plain[0] | RSV1 == 0xC1
    assert compressed[1:] == plain[1:]
    frame = await decode(compressed)
    assert (frame.rsv1, frame.fin, frame.opcode) == (True, True, Opcode.TEXT)


async def test_a_close_frame_carries_its_code() -> None:
    """A close frame built from close_payload reads back with its code and reason."""
    frame = await decode(build_frame(Opcode.CLOSE, close_payload(1001, "bye")))
    assert frame.close_code == 1001
    assert frame.payload[2:] == b"bye"


def test_a_ping_frame_uses_the_short_form() -> None:
    """Control frames up to 125 bytes take the 2-byte header."""
    frame = build_frame(Opcode.PING, b"p" * 125)
    assert struct.unpack("!BB", frame[:2]) == (0x89, 125)
    assert len(frame) == 127
