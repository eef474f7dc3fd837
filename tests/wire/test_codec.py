"""Outgoing encoding and incoming JSON policy (mockws/wire/codec.py, mockws/wire/frames.py)."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockws.wire.codec import decode_text, encode_message
from mockws.wire.frames import Opcode, build_frame

OP_TEXT, OP_BINARY = Opcode.TEXT, Opcode.BINARY


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


def test_circular_value_is_refused_and_the_encoder_recovers() -> None:
    """A circular value raises TypeError, and values encoded after it are unaffected."""
    inner: list[object] = [1]
    circular: dict[str, object] = {"inner": inner}
    circular["self"] = circular
    with pytest.raises(TypeError, match="cannot send dict"):
        encode_message(circular)
    # The same inner list, reachable twice, is not circular.
    assert encode_message({"a": inner, "b": [inner]}) == (OP_TEXT, b'{"a":[1],"b":[[1]]}')


def test_failure_inside_a_container_does_not_poison_later_encodes() -> None:
    """After a set deep inside a list fails to encode, the same list encodes once fixed."""
    shared: list[object] = [{"x": {1}}]
    with pytest.raises(TypeError):
        encode_message(shared)
    shared[0] = {"x": 1}
    assert encode_message([shared, shared]) == (OP_TEXT, b'[[{"x":1}],[{"x":1}]]')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_encoding_matches_compact_json_dumps(value: object) -> None:
    """Any JSON value encodes exactly as compact, non-ASCII-escaping json.dumps."""
    if isinstance(value, str):
        expected = value.encode()
    else:
        expected = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert encode_message(value) == (OP_TEXT, expected)


@pytest.mark.parametrize("text", [' {"a":1}', "\n[1]", "\t 2"])
def test_leading_whitespace_json_is_parsed(text: str) -> None:
    """JSON text with leading whitespace still arrives parsed."""
    assert decode_text(text, True) == json.loads(text)
