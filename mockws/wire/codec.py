"""Pure conversion between handler values and WebSocket message payloads."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .frames import Opcode

__all__ = ["decode_text", "encode_message"]

# Bound once: the hot path returns these for every message.
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY

_JSON_START = frozenset('{["-0123456789tfn')
_WHITESPACE = frozenset(" \t\n\r")
_NOT_UTF8 = "a string holds a lone surrogate, which has no UTF-8 form"
_json_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _c_encoder() -> Callable[[Any, int], list[str]] | None:
    """Return CPython's C encoder bound to our settings, or None where it is missing.

    ``JSONEncoder.encode`` builds a new C encoder on every call; reusing one
    saves about a microsecond per message, which is a few percent of an echo.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    encoder = _json_encoder
    return make(  # type: ignore[no-any-return]
        {},  # circular-reference markers; reset after a failure (see _encode_json)
        encoder.default,
        json.encoder.encode_basestring,
        None,
        encoder.key_separator,
        encoder.item_separator,
        False,
        False,
        True,
    )


_c_encode = _c_encoder()


def _encode_json(data: Any) -> str:
    global _c_encode
    if _c_encode is None or isinstance(data, str):
        return _json_encoder.encode(data)
    try:
        return "".join(_c_encode(data, 0))
    except BaseException:
        # A failed encode may leave markers behind that would misreport a
        # later value as circular: start over with a clean encoder.
        _c_encode = _c_encoder()
        raise


def encode_message(data: Any) -> tuple[int, bytes]:
    """Return the opcode and payload that ``send(data)`` puts on the wire.

    ``bytes``-like values go as one binary frame, ``str`` as text, and every
    other value (dict, list, number, bool, None) as compact JSON text.

    Raises:
        TypeError: ``data`` is not JSON-serialisable, nested too deeply, or a
            string in it holds a lone surrogate (no UTF-8 form); the message
            names its type.
    """
    if isinstance(data, str):
        try:
            return _TEXT, data.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError(_NOT_UTF8) from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return _BINARY, bytes(data)
    try:
        return _TEXT, _encode_json(data).encode("utf-8")
    except UnicodeEncodeError:
        raise TypeError(f"cannot send {type(data).__name__}: {_NOT_UTF8}") from None
    except RecursionError:
        raise TypeError(f"cannot send {type(data).__name__}: nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot send {type(data).__name__}: send str, bytes or a JSON-serialisable "
            f"value ({exc})"
        ) from None


def decode_text(text: str, parse_json: bool) -> Any:
    """Return what ``on_message`` receives for the text message ``text``.

    With ``parse_json``, text that parses as JSON arrives parsed and any other
    text arrives unchanged; without it, text always arrives as ``str``. JSON
    nested too deeply for Python to parse (about 1,000 levels) arrives as
    text too, rather than failing the connection.
    """
    if not parse_json:
        return text
    first = text[:1]
    if first in _WHITESPACE:
        stripped = text.lstrip()
        first = stripped[:1]
    if not first or first not in _JSON_START:
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text
