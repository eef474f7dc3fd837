"""Log setup: where records go, how they look, and an access log that masks secrets.

Records are readable lines (coloured on a terminal) or JSON lines. A record
that comes from an event carries it as ``record.mockws_event`` (the event's
JSON form); the JSON formatter writes its fields, the text formatter
colours its lead word.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from .redact import SECRET_QUERY_PARAMS, mask_query

__all__ = [
    "EVENT_ATTRIBUTE",
    "JsonFormatter",
    "MaskingAccessLogger",
    "TextFormatter",
    "access_logger_for",
    "configure_logging",
    "escape_control",
    "wants_colour",
]

EVENT_ATTRIBUTE = "mockws_event"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
TIME_FORMAT = "%H:%M:%S"

_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_LEVEL_COLOURS = {
    logging.DEBUG: "\x1b[2m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}
_EVENT_COLOURS = {
    "in": "\x1b[32m",
    "out": "\x1b[36m",
    "open": "\x1b[1;32m",
    "close": "\x1b[33m",
    "join": "\x1b[35m",
    "leave": "\x1b[35m",
}


# Control characters (a newline would forge a log line, ESC a terminal sequence),
# line separators, and lone surrogates, which no log stream can encode.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape_char(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str) -> str:
    """Return ``text`` with control characters and lone surrogates written as escapes."""
    return _UNSAFE.sub(_escape_char, text) if _UNSAFE.search(text) else text


def _escaped_args(record: logging.LogRecord) -> logging.LogRecord:
    """Return ``record``, or a copy whose string arguments have control characters escaped.

    mockws puts what a client sent (a close reason, a path, a token's header)
    into log lines only as ``%s`` arguments, so escaping those keeps every
    line one line, whatever the client sends; the message text itself is
    mockws's own (or a handler author's) and is kept.
    """
    args = record.args
    if not isinstance(args, tuple) or not any(
        isinstance(arg, str) and _UNSAFE.search(arg) for arg in args
    ):
        return record
    copy = logging.makeLogRecord(record.__dict__)
    copy.args = tuple(escape_control(arg) if isinstance(arg, str) else arg for arg in args)
    return copy


def wants_colour(stream: TextIO) -> bool:
    """Tell whether to colour lines written to ``stream``: a terminal, and NO_COLOR unset."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class TextFormatter(logging.Formatter):
    """One readable line per record; with ``colour``, ANSI colours by level and event.

    Args:
        colour: Add ANSI colour codes.
    """

    def __init__(self, *, colour: bool = False) -> None:
        super().__init__(TEXT_FORMAT, TIME_FORMAT)
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        """Format ``record`` with control characters in its arguments escaped."""
        return super().format(_escaped_args(record))

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """Format the line, colouring the level name and an event's lead word."""
        if not self.colour:
            return super().formatMessage(record)
        saved = record.levelname, record.message, record.asctime
        try:
            level_colour = _LEVEL_COLOURS.get(record.levelno)
            if level_colour:
                record.levelname = f"{level_colour}{record.levelname:<7}{_RESET}"
            event = getattr(record, EVENT_ATTRIBUTE, None)
            colour = _EVENT_COLOURS.get(event["type"]) if isinstance(event, dict) else None
            if colour:
                lead, space, rest = record.message.partition(" ")
                record.message = f"{colour}{lead}{_RESET}{space}{rest}"
            record.asctime = f"{_DIM}{record.asctime}{_RESET}"
            return super().formatMessage(record)
        finally:
            record.levelname, record.message, record.asctime = saved


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the event's fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as one line of JSON."""
        record = _escaped_args(record)
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        event = getattr(record, EVENT_ATTRIBUTE, None)
        if isinstance(event, dict):
            data["event"] = event
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        line = json.dumps(data, ensure_ascii=False, default=str)
        try:
            line.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate from a client: JSON can write it as an escape.
            line = json.dumps(data, default=str)
        return line


class MaskingAccessLogger(AbstractAccessLogger):
    """aiohttp access logger that never writes a query-string secret."""

    secret_names: frozenset[str] = SECRET_QUERY_PARAMS
    extra_secret_names: Collection[str] = ()

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Log one finished request with its secrets masked."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            mask_query(request.path_qs, (*self.secret_names, *self.extra_secret_names)),
            response.status,
            time * 1000,
        )


def access_logger_for(secret_names: Collection[str]) -> type[MaskingAccessLogger]:
    """Return an access logger class that also masks ``secret_names``.

    The collection is read at every log call, so a server can add the query
    parameters of endpoints it loads later.
    """

    class ConfiguredAccessLogger(MaskingAccessLogger):
        extra_secret_names = secret_names

    return ConfiguredAccessLogger


def configure_logging(level: str = "info", fmt: str = "text", colour: bool | None = None) -> None:
    """Send mockws and aiohttp logs to stderr.

    Args:
        level: The lowest level logged (debug, info, warning, error).
        fmt: ``text`` for readable lines, ``json`` for one JSON object per line.
        colour: Colour text lines; None colours when stderr is a terminal.
    """
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter(colour=wants_colour(sys.stderr) if colour is None else colour)
        )
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # mockws logs one line per reload; watchfiles' own "N changes detected" repeats it.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
