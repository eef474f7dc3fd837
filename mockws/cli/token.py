"""What ``mockws token`` needs: parse its options, pick the endpoint, build the URL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from ..config.model import Config, EndpointConfig, JwtConfig
from ..errors import AuthError
from ..server.router import Router
from ..server.urls import url_host

__all__ = ["find_jwt_endpoint", "parse_claims", "parse_ttl", "token_url"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def parse_ttl(text: str) -> float | None:
    """Return the seconds in ``90``, ``30s``, ``15m``, ``1h`` or ``7d``; None for ``none``.

    Raises:
        ValueError: The text is not such a duration.
    """
    text = text.strip().lower()
    if text in ("none", "never"):
        return None
    found = _DURATION.match(text)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a duration like 90, 30s, 15m, 1h, 7d or 'none'")
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2)]


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


def find_jwt_endpoint(config: Config, wanted: str) -> tuple[EndpointConfig, JwtConfig, str]:
    """Return the endpoint named by its pattern or by a path it matches.

    Returns:
        The endpoint, its JWT settings, and the path to put in the URL
        (``wanted`` when it is a concrete path).

    Raises:
        AuthError: No endpoint matches, or it does not use built-in JWT.
    """
    found = next((e for e in config.endpoints if e.pattern == wanted), None)
    path = wanted
    if found is None:
        router = Router(config.prefix, ((e.pattern, e) for e in config.endpoints))
        # Accept the path with or without the server prefix.
        for full in (config.prefix + wanted, wanted):
            match = router.match(full)
            if match is not None:
                found, path = match.target, full[len(config.prefix) :]
                break
        else:
            patterns = ", ".join(e.pattern for e in config.endpoints) or "none"
            raise AuthError(f"no endpoint {wanted!r} in the config (endpoints: {patterns})")
    settings = found.authenticate
    if not isinstance(settings, JwtConfig):
        how = "a custom authenticate callable" if settings else "no authentication"
        raise AuthError(
            f"endpoint {found.pattern} uses {how}; mockws token signs only for "
            "'authenticate: {jwt: ...}' endpoints"
        )
    return found, settings, path


def token_url(config: Config, path: str, query_param: str, token: str) -> str:
    """Return the ``ws://`` (with ``tls``: ``wss://``) URL of ``path`` carrying ``token``."""
    host = url_host(_ANY_ADDRESS.get(config.host, config.host))
    scheme = "wss" if config.tls is not None else "ws"
    query = urlencode({query_param: token})
    return f"{scheme}://{host}:{config.port}{config.prefix}{path}?{query}"
