"""Decide whether an upgrade request may become a connection.

An endpoint authenticates with built-in JWT (a token in the query string)
or with a callable of the user's. Browsers cannot read an HTTP 401 on a
WebSocket (they only see 1006), so a refused request is accepted, then closed
at once with a code and a reason the page can read; it never reaches the hub
or any handler hook.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import AuthenticateRef, EndpointConfig, JwtConfig
from .errors import AuthError
from .frames import encode_close_reason
from .handlers import HandlerSlot, call_hook, load_handler

__all__ = [
    "CLOSE_AUTH_ERROR",
    "CLOSE_FORBIDDEN",
    "CLOSE_INVALID_TOKEN",
    "CLOSE_NO_TOKEN",
    "AuthResult",
    "Authenticator",
    "CallableAuthenticator",
    "authenticate",
    "build_authenticator",
    "refuse",
]

log = logging.getLogger("mockws.auth")

CLOSE_NO_TOKEN = 4001
CLOSE_INVALID_TOKEN = 4002
CLOSE_FORBIDDEN = 4003
CLOSE_AUTH_ERROR = 1011


@dataclass(frozen=True)
class AuthResult:
    """What an authenticate callable decides about one upgrade request.

    Attributes:
        success: Accept the connection.
        code: The close code of a refusal (4000-4999 for your own meanings).
        reason: The close reason of a refusal; the page reads it in
            ``CloseEvent.reason`` (cut to 123 bytes).
        data: Stored as ``conn.auth_data`` on success.
        user_id: Stored as ``conn.user_id`` on success; when None and
            ``data`` is a mapping with a string ``sub``, that is used.
    """

    success: bool
    code: int = CLOSE_FORBIDDEN
    reason: str = "Forbidden"
    data: Any = None
    user_id: str | None = None


_RESULT_KEYS = frozenset(field.name for field in fields(AuthResult))
# Shared by every connection without authentication (it is frozen): idle memory.
_ACCEPTED = AuthResult(True)


def _sendable_close_code(code: object) -> bool:
    # RFC 6455 7.4: 1005, 1006 and 1015 must never be sent; 1016-2999 are reserved.
    if isinstance(code, bool) or not isinstance(code, int):
        return False
    return (1000 <= code <= 1014 and code not in (1004, 1005, 1006)) or 3000 <= code <= 4999


def coerce_result(value: object) -> AuthResult:
    """Turn what an authenticate callable returned into an AuthResult.

    Raises:
        TypeError: The value is not an AuthResult, a dict of its fields or a bool.
        ValueError: A refusal names a close code that cannot be sent.
    """
    if isinstance(value, bool):
        result = AuthResult(value)
    elif isinstance(value, AuthResult):
        result = value
    elif isinstance(value, Mapping):
        unknown = set(value) - _RESULT_KEYS
        if unknown or "success" not in value:
            raise TypeError(
                f"authenticate returned a dict with keys {sorted(map(str, value))}; "
                f"it needs 'success' and may have {sorted(_RESULT_KEYS - {'success'})}"
            )
        result = AuthResult(**value)
    else:
        raise TypeError(
            f"authenticate returned {type(value).__name__}; "
            "return True, False, a dict or a mockws.AuthResult"
        )
    if not result.success and not _sendable_close_code(result.code):
        raise ValueError(
            f"authenticate refused with close code {result.code!r}, which cannot be sent; "
            "use 4000-4999 (or 1008 policy violation)"
        )
    if result.success and result.user_id is None and isinstance(result.data, Mapping):
        subject = result.data.get("sub")
        if isinstance(subject, str):
            result = AuthResult(True, data=result.data, user_id=subject)
    return result


class Authenticator:
    """Base of the authenticators; call one with the upgrade request.

    Attributes:
        name: How log lines name it.
        query_param: The query parameter holding a secret, removed from
            ``conn.query`` and masked in logs; None if it reads none.
    """

    name = "authenticate"
    query_param: str | None = None

    async def __call__(self, request: web.Request) -> AuthResult:
        """Return the decision about ``request``; may raise on a bug."""
        raise NotImplementedError


class CallableAuthenticator(Authenticator):
    """A user function ``authenticate(request)``, sync or async.

    The function is looked up in its module at every call, so a hot reload
    of that module takes effect for the next connection.

    Args:
        slot: The module that holds the function.
        function: The function's name in that module.
    """

    def __init__(self, slot: HandlerSlot, function: str) -> None:
        self._slot = slot
        self._function = function
        self.name = f"{slot.spec}:{function}"

    async def __call__(self, request: web.Request) -> AuthResult:
        """Call the function and coerce its answer into an AuthResult."""
        function = self._slot.hook(self._function)
        if function is None:
            raise AuthError(f"{self._slot.spec} has no function {self._function!r} any more")
        return coerce_result(await call_hook(function, request))


def build_authenticator(
    settings: EndpointConfig,
    handler: HandlerSlot,
    slots: dict[str, HandlerSlot],
    base_dir: Path,
) -> Authenticator | None:
    """Return the authenticator of an endpoint, or None when it has none.

    ``authenticate`` may be ``{jwt: {...}}``; ``path/to/file.py:function`` or
    ``dotted.module:function``; or a bare function name, looked up in the
    endpoint's own handler module (``authenticate: authenticate``).

    Args:
        settings: The endpoint's config.
        handler: The endpoint's handler module.
        slots: Loaded modules by name; a module named by a reference joins
            it, so it reloads like a handler.
        base_dir: The folder relative module paths resolve against.

    Raises:
        AuthError: The JWT key or algorithms are unusable, or the function
            does not exist.
        HandlerError: The referenced module cannot be imported.
    """
    spec = settings.authenticate
    if spec is None:
        return None
    if isinstance(spec, JwtConfig):
        # PyJWT and cryptography load only for configs that use JWT (startup time).
        from .jwt_auth import JwtAuthenticator

        return JwtAuthenticator(spec)
    assert isinstance(spec, AuthenticateRef)
    module_spec, _, function = spec.target.rpartition(":")
    if not function.isidentifier():
        raise AuthError(
            f"{spec.target!r}: expected 'path/to/file.py:function', 'module:function', "
            "or the name of a function in the endpoint's handler"
        )
    slot = handler
    if module_spec:
        module = load_handler(module_spec, base_dir)
        slot = slots.setdefault(module.__name__, HandlerSlot(module_spec, module))
    if slot.hook(function) is None:
        raise AuthError(f"{slot.spec} has no function {function!r}")
    return CallableAuthenticator(slot, function)


async def authenticate(
    authenticator: Authenticator | None, request: web.Request, conn_id: str
) -> AuthResult:
    """Run ``authenticator`` on ``request``; a raising one refuses with 1011.

    The exception is logged with its traceback. Without an authenticator,
    every request is accepted.
    """
    if authenticator is None:
        return _ACCEPTED
    try:
        return await authenticator(request)
    except Exception as exc:  # noqa: BLE001 - a bug in user code refuses, never crashes
        log.error(
            "%s: authenticate failed (connection %s, %s); refusing with 1011",
            authenticator.name,
            conn_id,
            request.path,
            exc_info=exc,
        )
        return AuthResult(False, CLOSE_AUTH_ERROR, "Authentication error")


async def refuse(socket: web.WebSocketResponse, result: AuthResult, conn_id: str) -> None:
    """Close an accepted but refused socket with the result's code and reason."""
    log.info("%s refused: %s %s", conn_id, result.code, result.reason)
    await socket.close(code=result.code, message=encode_close_reason(result.reason))
