"""Fuzz targets for the incoming message path: aiohttp's frame reader, then codec.decode_text.

The reader is aiohttp's own (the C build the server runs); it is fed
arbitrary bytes and well-formed frames cut at arbitrary points, the way a
socket delivers them. Run longer with ``HYPOTHESIS_PROFILE=fuzz``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType
from aiohttp._websocket.reader import WebSocketDataQueue  # not public: the reader's own queue
from aiohttp.http import WebSocketError, WebSocketReader
from aiohttp.streams import EofStream
from hypothesis import given
from hypothesis import strategies as st

from mockws.wire.codec import decode_text

from ..rawws import frame, split

# The codes the reader may fail a connection with: protocol error, bad UTF-8, too big.
FAILURE_CODES = {1002, 1007, 1009}
MAX_SIZE = 4096


class _Protocol:
    """What the reader's queue needs of aiohttp's protocol: flow control."""

    _reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


def feed(chunks: list[bytes]) -> tuple[list[tuple[WSMsgType, Any]], BaseException | None]:
    """Feed ``chunks`` to a fresh server-side reader; return its messages and its error."""
    loop = asyncio.new_event_loop()
    try:
        queue = WebSocketDataQueue(_Protocol(), 2**16, loop=loop)  # type: ignore[arg-type]
        reader = WebSocketReader(queue, MAX_SIZE, False, True)
        for chunk in chunks:
            reader.feed_data(chunk)
        if queue.exception() is None:
            reader.feed_eof()  # which would also forget the error
        messages: list[tuple[WSMsgType, Any]] = []
        while True:
            try:
                message = loop.run_until_complete(queue.read())
            except EofStream:
                return messages, None
            except Exception as error:  # noqa: BLE001 - the property is what it may be
                return messages, error
            messages.append((message.type, message.data))
    finally:
        loop.close()


@given(st.lists(st.binary(max_size=64), max_size=8))
def test_arbitrary_bytes_give_messages_or_a_protocol_error(chunks: list[bytes]) -> None:
    """Any bytes end in messages or a WebSocketError with a close code, never anything else."""
    _, error = feed(chunks)
    if error is not None:
        assert isinstance(error, WebSocketError), repr(error)
        assert error.code in FAILURE_CODES


@given(
    st.lists(st.tuples(st.sampled_from([0x1, 0x2, 0x9, 0xA]), st.binary(max_size=300)), max_size=5),
    st.lists(st.integers(0, 10**6), max_size=6),
)
def test_valid_frames_survive_any_split(frames: list[tuple[int, bytes]], cuts: list[int]) -> None:
    """Well-formed frames cut at any points give back the same messages, or the documented error."""
    wire = b"".join(frame(opcode, payload) for opcode, payload in frames)
    messages, error = feed(split(wire, cuts))
    expected: list[tuple[WSMsgType, Any]] = []
    expected_error = None
    for opcode, payload in frames:
        if opcode >= 0x8 and len(payload) > 125:
            expected_error = 1002
            break
        if opcode == 0x1:
            try:
                expected.append((WSMsgType.TEXT, payload.decode("utf-8")))
            except UnicodeDecodeError:
                expected_error = 1007
                break
        else:
            kind = {0x2: WSMsgType.BINARY, 0x9: WSMsgType.PING, 0xA: WSMsgType.PONG}[opcode]
            expected.append((kind, payload))
    assert messages == expected
    assert (error.code if isinstance(error, WebSocketError) else error) == expected_error


@given(st.text(max_size=200), st.booleans())
def test_decode_text_never_raises(text: str, parse_json: bool) -> None:
    """decode_text returns the text itself or exactly what json.loads makes of it."""
    value = decode_text(text, parse_json)
    if not parse_json or isinstance(value, str) and value == text:
        return
    assert value == json.loads(text) or value != value  # NaN is never equal to itself


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=10,
    )
)
def test_json_text_arrives_parsed(value: Any) -> None:
    """Any JSON document sent as text reaches on_message parsed."""
    assert decode_text(json.dumps(value), True) == value
