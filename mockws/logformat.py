"""How log records look: readable lines (coloured on a terminal) or JSON lines.

A record that comes from an event carries it as ``record.mockws_event`` (the
event's JSON form); the JSON formatter writes its fields, the text formatter
colours its lead word.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["EVENT_ATTRIBUTE", "JsonFormatter", "TextFormatter", "wants_colour"]

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
        return json.dumps(data, ensure_ascii=False, default=str)
