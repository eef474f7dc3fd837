"""Decide whether an upgrade request may become a connection: results and their codes.

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
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..wire.close import CloseCode, encode_close_reason

__all__ = [
    "AuthResult",
    "Authenticator",
    "authenticate",
    "authenticate_payload",
    "coerce_result",
    "refuse",
]

if TYPE_CHECKING:
    from ..hooks.loader import HandlerSlot

log = logging.getLogger("mockws.auth")


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
    code: int = CloseCode.FORBIDDEN
    reason: str = "Forbidden"
    data: Any = None
    user_id: str | None = None


_RESULT_KEYS = frozenset(field.name for field in fields(AuthResult))
# Shared by every connection without authentication (it is frozen): idle memory.
_ACCEPTED = AuthResult(True)


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
    if not result.success and not CloseCode.sendable(result.code):
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
        slot: The user's module that holds the function, if any; it reloads
            like a handler.
    """

    name = "authenticate"
    query_param: str | None = None
    slot: HandlerSlot | None = None

    async def __call__(self, request: web.Request) -> AuthResult:
        """Return the decision about ``request``; may raise on a bug."""
        raise NotImplementedError

    async def with_payload(self, request: web.Request, payload: Any) -> AuthResult:
        """Decide about a Socket.IO connection whose client sent the ``auth`` ``payload``.

        By default only the request counts; built-in JWT also reads the token
        from the payload.
        """
        return await self(request)


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
        return AuthResult(False, CloseCode.INTERNAL_ERROR, "Authentication error")


async def authenticate_payload(
    authenticator: Authenticator | None, request: web.Request, payload: Any, conn_id: str
) -> AuthResult:
    """Like :func:`authenticate`, for a Socket.IO client that sent the ``auth`` ``payload``."""
    if authenticator is None:
        return _ACCEPTED
    try:
        return await authenticator.with_payload(request, payload)
    except Exception as exc:  # noqa: BLE001 - a bug in user code refuses, never crashes
        log.error(
            "%s: authenticate failed (connection %s, %s); refusing with 1011",
            authenticator.name,
            conn_id,
            request.path,
            exc_info=exc,
        )
        return AuthResult(False, CloseCode.INTERNAL_ERROR, "Authentication error")


async def refuse(socket: web.WebSocketResponse, result: AuthResult, conn_id: str) -> None:
    """Close an accepted but refused socket with the result's code and reason."""
    log.info("%s refused: %s %s", conn_id, result.code, result.reason)
    await socket.close(code=result.code, message=encode_close_reason(result.reason))
