"""What ``mockws token`` needs: parse its options, pick the endpoint, build the URL."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from ..config.model import Config
from ..server.signing import find_jwt_endpoint, parse_ttl
from ..server.urls import url_host

__all__ = ["find_jwt_endpoint", "parse_claims", "parse_ttl", "token_url"]

_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def parse_claims(pairs: Iterable[str]) -> dict[str, Any]:
    """Turn ``key=value`` strings into claims; a value that parses as JSON is kept parsed.

    ``admin=true`` gives True, ``level=3`` gives 3, ``roles=["a","b"]`` a
    list, and ``name=alice`` the text ``"alice"``.

    Raises:
        ValueError: A pair has no ``=`` or an empty key.
    """
    claims: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r} is not KEY=VALUE")
        try:
            claims[key] = json.loads(raw)
        except ValueError:
            claims[key] = raw
    return claims


def token_url(config: Config, path: str, query_param: str, token: str) -> str:
    """Return the ``ws://`` (with ``tls``: ``wss://``) URL of ``path`` carrying ``token``."""
    host = url_host(_ANY_ADDRESS.get(config.host, config.host))
    scheme = "wss" if config.tls is not None else "ws"
    query = urlencode({query_param: token})
    return f"{scheme}://{host}:{config.port}{config.prefix}{path}?{query}"
