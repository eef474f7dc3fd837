"""Signing tokens that a config's JWT endpoints accept: for ``mockws token`` and ``token()``.

``mockws token`` (:mod:`mockws.cli.token`) and the ``token(...)`` function of
HTTP route templates (:mod:`mockws.server.http_serve`) find the endpoint the
same way and read a lifetime the same way; PyJWT loads only when a token is
signed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..config.model import Config, EndpointConfig, JwtConfig
from ..errors import AuthError
from .router import Router

__all__ = ["find_jwt_endpoint", "parse_ttl", "sign_for"]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)\Z")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


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


def sign_for(
    config: Config,
    endpoint: str,
    claims: Mapping[str, Any],
    *,
    ttl: float | str | None = "1h",
    private_key: str | None = None,
) -> str:
    """Return a token that ``endpoint`` (its pattern, or a path it matches) of ``config`` accepts.

    Args:
        config: The running config.
        endpoint: The endpoint's pattern, or a path it matches.
        claims: The token's claims (``sub`` and any other).
        ttl: Seconds, a duration (``30s``, ``15m``, ``1h``, ``7d``) or None / ``"none"``.
        private_key: A PEM file inside the config folder, for public-key endpoints.

    Raises:
        AuthError: No such JWT endpoint, a bad ``ttl``, a key outside the
            config folder, or the endpoint would refuse the token.
    """
    from ..auth.jwt import sign_token  # PyJWT loads only when a token is signed

    _, settings, _ = find_jwt_endpoint(config, endpoint)
    try:
        lifetime = parse_ttl(ttl) if isinstance(ttl, str) else ttl
    except ValueError as exc:
        raise AuthError(f"ttl: {exc}") from None
    key_path = None
    if private_key is not None:
        key_path = (config.base_dir / private_key).resolve()
        if not key_path.is_relative_to(config.base_dir):
            raise AuthError(f"private_key {private_key!r} is outside the config folder")
    return sign_token(settings, claims, ttl=lifetime, private_key=key_path)
