"""Build an endpoint's authenticator from its config: built-in JWT or a user callable."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ..config.model import AuthenticateRef, EndpointConfig, JwtConfig
from ..errors import AuthError
from ..hooks.loader import HandlerSlot, load_handler
from .base import Authenticator, AuthResult, coerce_result

__all__ = ["CallableAuthenticator", "build_authenticator"]


class CallableAuthenticator(Authenticator):
    """A user function ``authenticate(request)``, sync or async.

    The function is looked up in its module at every call, so a hot reload
    of that module takes effect for the next connection.

    Args:
        slot: The module that holds the function.
        function: The function's name in that module.
    """

    def __init__(self, slot: HandlerSlot, function: str) -> None:
        self.slot: HandlerSlot = slot
        self._function = function
        self.name = f"{slot.spec}:{function}"

    async def __call__(self, request: web.Request) -> AuthResult:
        """Call the function and coerce its answer into an AuthResult."""
        slot = self.slot
        function = slot.hook(self._function)
        if function is None:
            raise AuthError(f"{slot.spec} has no function {self._function!r} any more")
        return coerce_result(await slot.call(function, request))


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
        handler: The endpoint's handler module; a referenced module shares its timer.
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
        from .jwt import JwtAuthenticator

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
        slot = slots.setdefault(module.__name__, HandlerSlot(module_spec, module, handler.timer))
    if slot.hook(function) is None:
        raise AuthError(f"{slot.spec} has no function {function!r}")
    return CallableAuthenticator(slot, function)
