"""Pure RFC 6455 frame building for the server side (frames are never masked)."""

from __future__ import annotations

import struct

__all__ = ["MAX_CLOSE_REASON_BYTES", "build_frame", "encode_close_reason"]

MAX_CLOSE_REASON_BYTES = 123

_FIN = 0x80
_RSV1 = 0x40
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def build_frame(opcode: int, payload: bytes, *, rsv1: bool = False) -> bytes:
    """Return one complete, final, unmasked frame carrying ``payload``.

    Args:
        opcode: The frame opcode (1 text, 2 binary, 8 close, 9 ping, 10 pong).
        payload: The frame payload, already compressed if ``rsv1`` is set.
        rsv1: Mark the payload as permessage-deflate compressed (RFC 7692).
    """
    first = _FIN | opcode | (_RSV1 if rsv1 else 0)
    length = len(payload)
    if length < 126:
        header = _SHORT.pack(first, length)
    elif length < 65536:
        header = _MEDIUM.pack(first, 126, length)
    else:
        header = _LONG.pack(first, 127, length)
    return header + payload


def encode_close_reason(reason: str) -> bytes:
    """Return ``reason`` as UTF-8, cut to the 123 bytes RFC 6455 allows on a character boundary."""
    return reason.encode("utf-8")[:MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore").encode()
