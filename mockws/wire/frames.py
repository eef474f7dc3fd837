"""The opcode table and pure RFC 6455 frame building for the server side.

Frames a server sends are never masked; :mod:`mockws.wire.inbound` reads
the header bits of the frames clients send with the same constants.
"""

from __future__ import annotations

import struct
from enum import IntEnum

__all__ = ["FIN", "LENGTH_BITS", "MASKED", "OPCODE_BITS", "RSV1", "Opcode", "build_frame"]

FIN = 0x80
RSV1 = 0x40
OPCODE_BITS = 0x0F
MASKED = 0x80
LENGTH_BITS = 0x7F

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


class Opcode(IntEnum):
    """Frame opcodes (RFC 6455 section 5.2); 0x8 and above are control frames."""

    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @staticmethod
    def is_control(opcode: int) -> bool:
        """Tell whether ``opcode`` is a control frame's (close, ping, pong)."""
        return opcode >= 0x8


def build_frame(opcode: int, payload: bytes, *, rsv1: bool = False) -> bytes:
    """Return one complete, final, unmasked frame carrying ``payload``.

    Args:
        opcode: The frame's :class:`Opcode`.
        payload: The frame payload, already compressed if ``rsv1`` is set.
        rsv1: Mark the payload as permessage-deflate compressed (RFC 7692).
    """
    first = FIN | opcode | (RSV1 if rsv1 else 0)
    length = len(payload)
    if length < 126:
        header = _SHORT.pack(first, length)
    elif length < 65536:
        header = _MEDIUM.pack(first, 126, length)
    else:
        header = _LONG.pack(first, 127, length)
    return header + payload
