"""The close codes mockws sends and reports, and the close frame's payload.

One vocabulary for the whole server (RFC 6455 section 7.4 and mockws's own
4000-range codes), with the "may this code be sent" rule written once.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Protocol

__all__ = [
    "MAX_CLOSE_REASON_BYTES",
    "CloseCode",
    "Failable",
    "close_payload",
    "encode_close_reason",
]

MAX_CLOSE_REASON_BYTES = 123
_CODE = struct.Struct("!H")


class CloseCode(IntEnum):
    """Close codes by name: RFC 6455's, then the application codes mockws uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005
    ABNORMAL = 1006
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015
    # Built-in authentication's refusals (4000-4999 are the application's).
    NO_TOKEN = 4001
    INVALID_TOKEN = 4002
    FORBIDDEN = 4003

    @staticmethod
    def sendable(code: object) -> bool:
        """Tell whether a close frame may carry ``code``.

        RFC 6455 7.4: 1004-1006 and 1015 are never sent, 1016-2999 are
        reserved; 3000-4999 belong to libraries and applications.
        """
        if isinstance(code, bool) or not isinstance(code, int):
            return False
        return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


def encode_close_reason(reason: str) -> bytes:
    """Return ``reason`` as UTF-8, cut to the 123 bytes RFC 6455 allows on a character boundary.

    A lone surrogate (which has no UTF-8 form) becomes ``?``.
    """
    encoded = reason.encode("utf-8", "replace")
    return encoded[:MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore").encode()


def close_payload(code: int, reason: str = "") -> bytes:
    """Return the payload of a close frame: the code, then the reason cut to fit."""
    return _CODE.pack(code) + encode_close_reason(reason)


class Failable(Protocol):
    """What a broken limit fails: a connection, closed at once with a code and reason."""

    def fail(self, code: int, reason: str) -> bool:
        """Close with ``code`` and ``reason`` now; return False if already closing."""
        ...
