"""Pure conversion between handler values and WebSocket message payloads."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["OP_BINARY", "OP_TEXT", "decode_text", "encode_message"]

OP_TEXT = 0x1
OP_BINARY = 0x2

_JSON_START = frozenset('{["-0123456789tfn')
_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_message(data: Any) -> tuple[int, bytes]:
    """Return the opcode and payload that ``send(data)`` puts on the wire.

    ``bytes``-like values go as one binary frame, ``str`` as text, and every
    other value (dict, list, number, bool, None) as compact JSON text.

    Raises:
        TypeError: ``data`` is not JSON-serialisable; the message names its type.
    """
    if isinstance(data, str):
        return OP_TEXT, data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return OP_BINARY, bytes(data)
    try:
        return OP_TEXT, _encode_json(data).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot send {type(data).__name__}: send str, bytes or a JSON-serialisable "
            f"value ({exc})"
        ) from None


def decode_text(text: str, parse_json: bool) -> Any:
    """Return what ``on_message`` receives for the text message ``text``.

    With ``parse_json``, text that parses as JSON arrives parsed and any other
    text arrives unchanged; without it, text always arrives as ``str``.
    """
    if not parse_json:
        return text
    stripped = text.lstrip()
    if not stripped or stripped[0] not in _JSON_START:
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
