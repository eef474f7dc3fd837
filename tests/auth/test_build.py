"""An endpoint's authenticator built from its config (mockws/auth/build.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockws.auth.base import AuthResult
from mockws.auth.build import CallableAuthenticator, build_authenticator
from mockws.config.model import AuthenticateRef, EndpointConfig, JwtConfig
from mockws.errors import AuthError, HandlerError
from mockws.hooks.loader import HandlerSlot, load_handler
from mockws.hooks.timer import HookTimer

from ..helpers import WriteFile

GATE = """
def check(request):
    return request == "let me in"

async def authenticate(request):
    return {"success": False, "code": 4010, "reason": "own hook"}

NOT_A_FUNCTION = 3
"""


def settings(authenticate: JwtConfig | AuthenticateRef | None) -> EndpointConfig:
    return EndpointConfig(pattern="/ws", handler="gate_handler.py", authenticate=authenticate)


@pytest.fixture
def handler(write: WriteFile) -> tuple[HandlerSlot, Path]:
    """The endpoint's own handler module (it defines an authenticate hook too)."""
    path = write("gate_handler.py", GATE)
    base = path.parent
    return HandlerSlot("gate_handler.py", load_handler("gate_handler.py", base), HookTimer()), base


def test_no_authenticate_gives_no_authenticator(handler: tuple[HandlerSlot, Path]) -> None:
    """An endpoint without authenticate accepts everyone: no authenticator at all."""
    slot, base = handler
    assert build_authenticator(settings(None), slot, {}, base) is None


def test_jwt_settings_give_the_jwt_authenticator_reading_its_query_param(
    handler: tuple[HandlerSlot, Path],
) -> None:
    """authenticate: {jwt: ...} builds the JWT authenticator, which names its secret param."""
    slot, base = handler
    jwt_settings = JwtConfig(algorithms=("HS256",), secret="s" * 32, query_param="t")
    auth = build_authenticator(settings(jwt_settings), slot, {}, base)
    assert auth is not None and auth.name == "jwt" and auth.query_param == "t"
    assert auth.slot is None


async def test_bare_name_uses_the_endpoints_own_handler_module(
    handler: tuple[HandlerSlot, Path],
) -> None:
    """A bare function name is looked up in the endpoint's handler module."""
    slot, base = handler
    auth = build_authenticator(settings(AuthenticateRef("authenticate")), slot, {}, base)
    assert isinstance(auth, CallableAuthenticator) and auth.slot is slot
    assert await auth(None) == AuthResult(False, 4010, "own hook")  # type: ignore[arg-type]


async def test_file_reference_joins_the_slots_and_shares_the_timer(
    handler: tuple[HandlerSlot, Path], write: WriteFile
) -> None:
    """path.py:function loads that module into the slots (so it reloads) with the server's timer."""
    slot, base = handler
    write("other_gate.py", GATE)
    slots: dict[str, HandlerSlot] = {}
    auth = build_authenticator(settings(AuthenticateRef("other_gate.py:check")), slot, slots, base)
    assert isinstance(auth, CallableAuthenticator)
    assert list(slots.values()) == [auth.slot] and auth.slot.timer is slot.timer
    assert auth.name == "other_gate.py:check"
    assert await auth("let me in") == AuthResult(True)  # type: ignore[arg-type]
    assert (await auth("no")).success is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        ("gate_handler.py:missing", AuthError, "has no function 'missing'"),
        ("gate_handler.py:NOT_A_FUNCTION", AuthError, "has no function 'NOT_A_FUNCTION'"),
        ("gate_handler.py:", AuthError, "expected 'path/to/file.py:function'"),
        ("no_such_file.py:check", HandlerError, "handler file not found"),
    ],
)
def test_unusable_references_are_refused_with_the_reason(
    handler: tuple[HandlerSlot, Path], target: str, error: type[Exception], message: str
) -> None:
    """A reference to a missing function, a non-function or a missing file is an error."""
    slot, base = handler
    with pytest.raises(error, match=message):
        build_authenticator(settings(AuthenticateRef(target)), slot, {}, base)


async def test_a_function_removed_by_a_reload_refuses_with_an_auth_error(
    handler: tuple[HandlerSlot, Path], write: WriteFile
) -> None:
    """The function is looked up at every call: once a reload removed it, the call raises."""
    slot, base = handler
    auth = build_authenticator(settings(AuthenticateRef("check")), slot, {}, base)
    assert auth is not None
    write("gate_handler_v2.py", "")
    slot.swap(load_handler("gate_handler_v2.py", base))
    with pytest.raises(AuthError, match="has no function 'check' any more"):
        await auth(None)  # type: ignore[arg-type]
