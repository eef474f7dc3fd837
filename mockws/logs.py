"""Log setup, and masking of secrets in logged URLs."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from .logformat import JsonFormatter, TextFormatter, wants_colour

__all__ = [
    "SECRET_QUERY_PARAMS",
    "MaskingAccessLogger",
    "configure_logging",
    "mask_json_secrets",
    "access_logger_for",
    "mask_query",
]

SECRET_QUERY_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "jwt",
        "auth",
        "key",
        "api_key",
        "apikey",
        "password",
        "secret",
        "admin_token",
    }
)
MASK = "***"


def mask_query(path_qs: str, secret_names: Iterable[str] = SECRET_QUERY_PARAMS) -> str:
    """Return ``path_qs`` with the values of secret query parameters masked."""
    if "?" not in path_qs:
        return path_qs
    secrets = {name.lower() for name in secret_names}
    parts = urlsplit(path_qs)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    masked = [(name, MASK if name.lower() in secrets else value) for name, value in pairs]
    return f"{parts.path}?{urlencode(masked, safe='*')}"


_SECRET_KEYS = "|".join(sorted(SECRET_QUERY_PARAMS))
_JSON_SECRET = re.compile(rf'("(?:{_SECRET_KEYS})"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.IGNORECASE)


def mask_json_secrets(text: str) -> str:
    """Return ``text`` with the string values of secret-named JSON keys masked.

    Works on the start of a message too: a value cut short is masked all the same.
    """
    if '"' not in text:
        return text
    return _JSON_SECRET.sub(rf'\1"{MASK}"', text)


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
