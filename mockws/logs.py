"""Log setup, and masking of secrets in logged URLs."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

__all__ = [
    "SECRET_QUERY_PARAMS",
    "MaskingAccessLogger",
    "access_logger_for",
    "configure_logging",
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


def configure_logging(level: str = "info") -> None:
    """Send mockws and aiohttp logs to stderr as readable lines."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
