"""Outgoing encoding and incoming JSON policy (mockws/codec.py, mockws/frames.py)."""

import json

import pytest

from mockws.codec import OP_BINARY, OP_TEXT, decode_text, encode_message
from mockws.frames import build_frame


@pytest.mark.parametrize(
    ("value", "opcode", "payload"),
    [
        ({"a": 1}, OP_TEXT, b'{"a":1}'),
        ([1, "x"], OP_TEXT, b'[1,"x"]'),
        (3.5, OP_TEXT, b"3.5"),
        (True, OP_TEXT, b"true"),
        (None, OP_TEXT, b"null"),
        ("héllo", OP_TEXT, "héllo".encode()),
        (b"\x00\xff", OP_BINARY, b"\x00\xff"),
        (bytearray(b"ab"), OP_BINARY, b"ab"),
    ],
)
def test_send_type_rules(value: object, opcode: int, payload: bytes) -> None:
    """JSON for dict/list/number/bool/None, text for str, binary for bytes."""
    assert encode_message(value) == (opcode, payload)


def test_unserialisable_value_names_its_type() -> None:
    """A value JSON cannot encode raises TypeError naming the type."""
    with pytest.raises(TypeError, match="cannot send set"):
        encode_message({1, 2})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type":"x"}', {"type": "x"}),
        ("[1,2]", [1, 2]),
        ("42", 42),
        ('"q"', "q"),
        ("hello", "hello"),
        ("{not json", "{not json"),
        ("", ""),
        ("  ", "  "),
        ("null", None),
    ],
)
def test_parse_json_on(text: str, expected: object) -> None:
    """Text that is JSON arrives parsed; other text arrives unchanged."""
    assert decode_text(text, True) == expected


def test_parse_json_off_keeps_text() -> None:
    """With parse_json off, JSON text arrives as str."""
    assert decode_text('{"a":1}', False) == '{"a":1}'


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
def test_frame_lengths(length: int) -> None:
    """Frames use the 7-bit, 16-bit and 64-bit length forms at their boundaries."""
    payload = b"x" * length
    frame = build_frame(OP_TEXT, payload)
    assert frame[0] == 0x81
    assert frame[1] & 0x80 == 0  # server frames are never masked
    header = {0: 2, 125: 2, 126: 4, 65535: 4, 65536: 10}[length]
    assert len(frame) == header + length
    assert frame[header:] == payload


def test_frame_rsv1_bit() -> None:
    """rsv1=True sets the compression bit."""
    assert build_frame(OP_BINARY, b"", rsv1=True)[0] == 0xC2
    assert json.loads(build_frame(OP_TEXT, b'{"a":1}')[2:]) == {"a": 1}
