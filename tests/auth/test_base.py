"""Authentication results and the authenticate step (mockws/auth/base.py), without sockets."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockws import AuthResult
from mockws.auth.base import Authenticator, authenticate, coerce_result, refuse


def test_bools_become_accept_and_forbidden() -> None:
    """True accepts with nothing attached; False refuses with 4003 "Forbidden"."""
    assert coerce_result(True) == AuthResult(True, data=None, user_id=None)
    assert coerce_result(False) == AuthResult(False, 4003, "Forbidden")


def test_an_auth_result_passes_through_unchanged() -> None:
    """An AuthResult that needs no user_id filled in is returned as it is."""
    result = AuthResult(False, 4010, "Banned", data={"sub": "x"})
    assert coerce_result(result) is result


def test_a_dict_of_fields_becomes_an_auth_result() -> None:
    """A dict with success and any other AuthResult field builds the same AuthResult."""
    given = {"success": False, "code": 4100, "reason": "Try later", "data": [1], "user_id": None}
    assert coerce_result(given) == AuthResult(False, 4100, "Try later", [1], None)
    assert coerce_result({"success": True}) == AuthResult(True)


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"success": True, "role": "admin"}, "['role', 'success']"),
        ({"ok": True}, "['ok']"),
        ({}, "[]"),
    ],
)
def test_a_dict_without_success_or_with_unknown_keys_is_a_type_error(
    value: dict[str, Any], named: str
) -> None:
    """A dict lacking 'success' or with keys AuthResult lacks is refused, naming its keys."""
    with pytest.raises(TypeError) as caught:
        coerce_result(value)
    message = str(caught.value)
    assert f"a dict with keys {named}" in message
    assert "it needs 'success' and may have ['code', 'data', 'reason', 'user_id']" in message


@pytest.mark.parametrize("value", [None, 1, "yes", ["success"], AuthResult])
def test_other_values_are_a_type_error_naming_their_type(value: object) -> None:
    """Anything but a bool, a mapping or an AuthResult is refused with its type's name."""
    with pytest.raises(TypeError, match=f"authenticate returned {type(value).__name__}; return"):
        coerce_result(value)


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, True, "4000"])
def test_a_refusal_with_an_unsendable_code_is_a_value_error(code: object) -> None:
    """A refusal's close code must be one a close frame may carry; the error names it."""
    with pytest.raises(ValueError, match=f"close code {code!r}, which cannot be sent"):
        coerce_result({"success": False, "code": code})


@pytest.mark.parametrize("code", [1000, 1008, 1011, 1014, 3000, 4000, 4999])
def test_a_refusal_with_a_sendable_code_is_kept(code: int) -> None:
    """RFC 6455's sendable codes and 3000-4999 are kept as given."""
    assert coerce_result(AuthResult(False, code, "no")).code == code


def test_the_code_of_an_acceptance_is_not_checked() -> None:
    """An accepted result's code is never sent, so any value passes."""
    assert coerce_result(AuthResult(True, code=1006)).success


@pytest.mark.parametrize(
    ("result", "user_id"),
    [
        (AuthResult(True, data={"sub": "ann"}), "ann"),
        ({"success": True, "data": {"sub": "ann", "x": 1}}, "ann"),
        (AuthResult(True, data={"sub": "ann"}, user_id="bob"), "bob"),
        (AuthResult(True, data={"sub": 42}), None),
        (AuthResult(True, data={"name": "ann"}), None),
        (AuthResult(True, data=["sub", "ann"]), None),
        (AuthResult(False, data={"sub": "ann"}), None),
    ],
)
def test_a_string_sub_fills_a_missing_user_id(
    result: AuthResult | dict[str, Any], user_id: str | None
) -> None:
    """On success without a user_id, a string 'sub' in a mapping's data becomes the user_id."""
    coerced = coerce_result(result)
    assert coerced.user_id == user_id
    data = result.data if isinstance(result, AuthResult) else result["data"]
    assert coerced.data is data


class Fixed(Authenticator):
    """An authenticator that returns a fixed result, or raises a fixed error."""

    name = "fixed.py:check"

    def __init__(self, result: AuthResult | None = None, error: BaseException | None = None):
        self.result = result
        self.error = error
        self.requests: list[web.Request] = []

    async def __call__(self, request: web.Request) -> AuthResult:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


async def test_no_authenticator_accepts_everyone() -> None:
    """Without an authenticator, every request is accepted with no data and no user."""
    result = await authenticate(None, make_mocked_request("GET", "/open"), "c1")
    assert result == AuthResult(True)


async def test_an_authenticator_decides() -> None:
    """The authenticator gets the request and its result is returned as it is."""
    request = make_mocked_request("GET", "/secure")
    decided = AuthResult(False, 4010, "Banned")
    authenticator = Fixed(decided)
    assert await authenticate(authenticator, request, "c1") is decided
    assert authenticator.requests == [request]


async def test_a_raising_authenticator_refuses_1011_and_logs_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A raising authenticator refuses with 1011; the error is logged with its traceback."""
    error = RuntimeError("auth backend down")
    with caplog.at_level(logging.ERROR, logger="mockws.auth"):
        result = await authenticate(Fixed(error=error), make_mocked_request("GET", "/x/y"), "c7")
    assert result == AuthResult(False, 1011, "Authentication error")
    [record] = caplog.records
    assert record.name == "mockws.auth" and record.levelno == logging.ERROR
    assert record.getMessage() == (
        "fixed.py:check: authenticate failed (connection c7, /x/y); refusing with 1011"
    )
    assert record.exc_info is not None and record.exc_info[1] is error


async def test_cancellation_is_not_taken_for_an_error() -> None:
    """A cancelled authenticator propagates CancelledError instead of refusing with 1011."""
    with pytest.raises(asyncio.CancelledError):
        await authenticate(
            Fixed(error=asyncio.CancelledError()), make_mocked_request("GET", "/x"), "c1"
        )


class ClosingSocket:
    """Records the close a refusal asks for."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, bytes]] = []

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed.append((code, message))
        return True


async def test_refuse_closes_with_the_code_and_a_reason_cut_to_fit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """refuse() closes with the result's code and its reason cut to 123 bytes, and logs it."""
    socket: Any = ClosingSocket()
    reason = "é" * 100
    with caplog.at_level(logging.INFO, logger="mockws.auth"):
        await refuse(socket, AuthResult(False, 4010, reason), "c3")
    [(code, message)] = socket.closed
    assert code == 4010 and message == ("é" * 61).encode()
    assert [r.getMessage() for r in caplog.records] == [f"c3 refused: 4010 {reason}"]
