"""permessage-deflate (RFC 7692) for what mockws sends, decided per message.

aiohttp negotiates the extension and inflates what clients send (within
``max_msg_size`` after inflation), but it compresses every message it sends
once the extension is on. mockws writes its data frames itself, so it can
do what RFC 7692 allows: compress messages of at least ``threshold`` bytes
(RSV1 set) and send smaller ones as plain frames (RSV1 clear), where the
deflate overhead would outweigh the saving.
"""

from __future__ import annotations

import zlib

from .frames import build_frame

__all__ = ["Deflater"]

# RFC 7692 7.2.1: a message's compressed data ends with an empty stored
# block from the sync flush; the sender removes these 4 bytes, the receiver adds them.
_FLUSH_TAIL = b"\x00\x00\xff\xff"


class Deflater:
    """Compresses one connection's large outgoing messages.

    Args:
        threshold: Messages of at least this many bytes are compressed.
        window_bits: The LZ77 window the client allowed (9 to 15).
        context_takeover: Let a message refer to earlier ones; False when
            the client asked for ``server_no_context_takeover``.
        level: zlib level; fastest by default, as aiohttp does.
    """

    __slots__ = ("threshold", "window_bits", "_flush_mode", "_level", "_compressor")

    def __init__(
        self,
        *,
        threshold: int,
        window_bits: int = 15,
        context_takeover: bool = True,
        level: int = zlib.Z_BEST_SPEED,
    ) -> None:
        if not 9 <= window_bits <= 15:
            raise ValueError(f"window_bits must be between 9 and 15, got {window_bits}")
        self.threshold = threshold
        self.window_bits = window_bits
        # A full flush also forgets the history, which is what no context takeover asks.
        self._flush_mode = zlib.Z_SYNC_FLUSH if context_takeover else zlib.Z_FULL_FLUSH
        self._level = level
        self._compressor: zlib._Compress | None = None

    def compress(self, payload: bytes) -> bytes:
        """Return ``payload`` deflated for one RSV1 frame."""
        # Created on first use: a compressor holds ~256 KiB, and most
        # connections of a mock never send a message over the threshold.
        if self._compressor is None:
            self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, -self.window_bits)
        data = self._compressor.compress(payload) + self._compressor.flush(self._flush_mode)
        return data.removesuffix(_FLUSH_TAIL)

    def frame(self, opcode: int, payload: bytes) -> bytes:
        """Return one complete compressed frame (RSV1 set) carrying ``payload``."""
        return build_frame(opcode, self.compress(payload), rsv1=True)

    def forget(self) -> None:
        """Start afresh: the last compressed frame never reached the client.

        Later messages must not refer to it. A new compressor refers to
        nothing earlier, which a client inflating with its old context
        still decodes correctly.
        """
        self._compressor = None
