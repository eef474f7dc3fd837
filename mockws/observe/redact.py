"""Masking secrets: query parameters in URLs and secret-named keys in JSON text.

Everything that leaves the process for a person (log lines, the inspector,
recordings) passes what a client sent through these first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "SECRET_QUERY_PARAMS", "mask_json_secrets", "mask_query"]

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
    """Return ``path_qs`` (or a whole URL) with the values of secret query parameters masked."""
    if "?" not in path_qs:
        return path_qs
    secrets = {name.lower() for name in secret_names}
    parts = urlsplit(path_qs)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not pairs:
        return path_qs
    masked = [(name, MASK if name.lower() in secrets else value) for name, value in pairs]
    query = urlencode(masked, safe="*")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


_SECRET_KEYS = "|".join(sorted(SECRET_QUERY_PARAMS))
_JSON_SECRET = re.compile(rf'("(?:{_SECRET_KEYS})"\s*:\s*)"(?:[^"\\]|\\.)*"?', re.IGNORECASE)


def mask_json_secrets(text: str) -> str:
    """Return ``text`` with the string values of secret-named JSON keys masked.

    Works on the start of a message too: a value cut short is masked all the same.
    """
    if '"' not in text:
        return text
    return _JSON_SECRET.sub(rf'\1"{MASK}"', text)
