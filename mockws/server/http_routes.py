"""The running form of the config's HTTP routes, and matching requests to them; no I/O.

Routes match like endpoint patterns, under the server prefix, in config
order: the first route whose pattern matches the path and whose method is
the request's (or ``ANY``; a ``GET`` route answers ``HEAD`` too) wins. A
path some route matches with another method gets 405 with ``Allow``; a
path no route matches gets 404 with the closest routes (see
:mod:`mockws.server.http_serve`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config.http import split_handler
from ..config.model import Config, HttpRouteConfig, JwtConfig
from ..config.patterns import CompiledPattern, compile_pattern
from ..config.templates import Template
from ..errors import HandlerError
from ..hooks.loader import HandlerSlot, load_handler
from ..hooks.timer import HookTimer
from ..wire.codec import encode_message
from .router import strip_prefix

if TYPE_CHECKING:
    from ..auth.jwt import JwtVerifier

__all__ = [
    "CONTENT_TYPES",
    "JSON_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "HttpRoute",
    "HttpRoutes",
    "RouteFound",
    "load_http_routes",
]

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
CONTENT_TYPES = {"json": JSON_CONTENT_TYPE, "text": TEXT_CONTENT_TYPE}
"""The default Content-Type of each body kind; a route's own header replaces it."""

_CLOSEST = 5


@dataclass(eq=False)
class HttpRoute:
    """One route's validated config, its matcher and what it calls.

    Attributes:
        config: The route's settings.
        compiled: The route's pattern (without the prefix), compiled.
        slot: The handler module of a ``handler:`` route, swapped on reload.
        function: The name of the handler function in ``slot``'s module.
        verifier: Checks the bearer token of a ``bearer:`` route.
        jwt: The JWT settings of the ``bearer:`` endpoint.
        names: The template names the route reads (none: nothing to render).
        static_body: The body of a ``json`` or ``text`` route without
            templates, encoded once.
        static_headers: The response headers, when none is a template.
        status: The status of a body known at load (200, or 204 when empty).
        calls: Requests answered so far (``seq`` in templates).
    """

    config: HttpRouteConfig
    compiled: CompiledPattern
    slot: HandlerSlot | None = None
    function: str | None = None
    verifier: JwtVerifier | None = None
    jwt: JwtConfig | None = None
    names: frozenset[str] = frozenset()
    static_body: bytes | None = None
    static_headers: tuple[tuple[str, str], ...] = ()
    status: int = 200
    calls: int = 0

    def __post_init__(self) -> None:
        config = self.config
        templates = [template for _, template in config.headers]
        if isinstance(config.content, Template):
            templates.append(config.content)
        if config.broadcast is not None:
            templates.append(config.broadcast)
        if config.rooms is not None:
            templates.append(config.rooms)
        if config.send_to_user is not None:
            templates += [config.send_to_user.user, config.send_to_user.data]
        self.names = frozenset().union(*(template.names for template in templates))
        content = config.content
        if isinstance(content, Template) and content.constant:
            value = content.value
            self.static_body = (
                encode_message(value)[1] if config.kind == "json" else str(value).encode("utf-8")
            )
        elif config.kind == "empty":
            self.static_body = b""
        if self.static_body is not None:
            self.status = config.status or (200 if self.static_body else 204)
        headers = {"content-type": ("Content-Type", CONTENT_TYPES.get(config.kind))}
        extra: list[tuple[str, str]] = []
        for name, template in config.headers:
            if name.lower() == "content-type":
                headers["content-type"] = (name, str(template.value))
            else:
                extra.append((name, str(template.value)))
        self.static_headers = tuple(
            (name, value) for name, value in headers.values() if value is not None
        ) + tuple(extra)

    @property
    def method(self) -> str:
        """The route's method, or ``ANY``."""
        return self.config.method

    @property
    def route(self) -> str:
        """``METHOD /pattern`` as configured."""
        return self.config.route

    def describe(self) -> str:
        """Say what the route answers, for ``mockws check`` and ``serve`` (``json 200``...)."""
        config = self.config
        kind = config.kind
        parts = [f"{kind} {config.content}" if kind in ("file", "handler") else kind]
        if config.status is not None:
            parts.append(str(config.status))
        if config.delay is not None:
            low, high = config.delay.low, config.delay.high
            parts.append(f"after {low:g}s" if low == high else f"after {low:g}-{high:g}s")
        if config.broadcast is not None:
            rooms = f" to {', '.join(map(str, config.rooms.value))}" if config.rooms else ""
            parts.append(f"broadcast{rooms}")
        if config.send_to_user is not None:
            parts.append("send_to_user")
        if config.bearer is not None:
            parts.append(f"bearer {config.bearer}")
        return ", ".join(parts)

    def accepts(self, method: str) -> bool:
        """Tell whether a request with ``method`` is this route's."""
        own = self.config.method
        return own == "ANY" or own == method or (method == "HEAD" and own == "GET")


@dataclass(frozen=True)
class RouteFound:
    """The route that answers a request, and the parameters its pattern captured."""

    route: HttpRoute
    params: Mapping[str, str]


class HttpRoutes:
    """The server's HTTP routes, matched in order under ``prefix``.

    Args:
        prefix: The server prefix (normalized).
        routes: The routes in priority order.
    """

    def __init__(self, prefix: str, routes: Sequence[HttpRoute] = ()) -> None:
        self.prefix = prefix
        self.routes = tuple(routes)

    def __len__(self) -> int:
        return len(self.routes)

    def __iter__(self) -> Iterator[HttpRoute]:
        return iter(self.routes)

    def match(self, method: str, path: str) -> RouteFound | tuple[str, ...] | None:
        """Find the route for ``method`` and ``path``.

        Returns:
            The route and its parameters; or, when routes match the path but
            none the method, the methods they allow (for 405 ``Allow``); or
            None when no route matches the path.
        """
        local = strip_prefix(self.prefix, path)
        if local is None:
            return None
        allowed: list[str] = []
        for route in self.routes:
            params = route.compiled.match(local)
            if params is None:
                continue
            if route.accepts(method):
                return RouteFound(route, params)
            allowed.append(route.method)
            if route.method == "GET":
                allowed.append("HEAD")
        return tuple(dict.fromkeys(allowed)) or None

    def closest(self, method: str, path: str) -> list[str]:
        """Return up to five routes (``METHOD /full/path``) most like ``method path``."""
        wanted = f"{method} {path}"
        scored = sorted(
            (
                (difflib.SequenceMatcher(None, wanted, shown).ratio(), index, shown)
                for index, shown in enumerate(self.shown())
            ),
            key=lambda item: (-item[0], item[1]),
        )
        return [shown for _, _, shown in scored[:_CLOSEST]]

    def shown(self) -> list[str]:
        """Every route as a client calls it: ``METHOD /prefix/pattern``."""
        return [f"{route.method} {self.full_path(route)}" for route in self.routes]

    def full_path(self, route: HttpRoute) -> str:
        """The path pattern ``route`` serves, prefix included."""
        pattern = route.compiled.pattern
        if not self.prefix:
            return pattern
        return self.prefix if pattern == "/" else self.prefix + pattern

    def slots(self) -> list[HandlerSlot]:
        """The handler modules the routes call, each once."""
        return list(dict.fromkeys(route.slot for route in self.routes if route.slot is not None))


def _jwt_of(config: Config, pattern: str) -> JwtConfig:
    for endpoint in config.endpoints:
        if endpoint.pattern == pattern and isinstance(endpoint.authenticate, JwtConfig):
            return endpoint.authenticate
    raise config.error("http", f"no JWT endpoint {pattern!r}")  # load.py checked this


def load_http_routes(
    config: Config, slots: dict[str, HandlerSlot] | None = None, timer: HookTimer | None = None
) -> HttpRoutes:
    """Import the handler modules the config's routes name and return the route table.

    Modules are shared with the endpoints through ``slots`` (a module named
    by a route and an endpoint is one :class:`HandlerSlot`), so the reloader
    swaps route handlers as it swaps WebSocket handlers.

    Raises:
        ConfigError: A handler cannot be imported or lacks its function, or
            a ``bearer`` endpoint's key is unusable; the error names the
            route's key.
    """
    slots = {} if slots is None else slots
    timer = timer if timer is not None else HookTimer(config.limits.slow_hook_warning)
    routes: list[HttpRoute] = []
    for index, route_config in enumerate(config.http):
        key = f"http[{index}]"
        route = HttpRoute(route_config, compile_pattern(route_config.pattern))
        if route_config.kind == "handler":
            route.slot, route.function = _load_function(
                config, route_config.content, slots, timer, f"{key}.handler"
            )
        if route_config.bearer is not None:
            route.jwt = _jwt_of(config, route_config.bearer)
            route.verifier = _verifier(config, route.jwt, f"{key}.bearer")
        routes.append(route)
    return HttpRoutes(config.prefix, routes)


def _load_function(
    config: Config, target: str, slots: dict[str, HandlerSlot], timer: HookTimer, key: str
) -> tuple[HandlerSlot, str]:
    spec, function = split_handler(target)
    try:
        module = load_handler(spec, config.base_dir)
    except HandlerError as exc:
        raise config.error(key, f"cannot load {spec!r}: {exc}") from None
    slot = slots.get(module.__name__)
    if slot is None:
        slot = slots[module.__name__] = HandlerSlot(spec, module, timer)
    if slot.hook(function) is None:
        raise config.error(key, f"{spec} has no function {function!r}")
    return slot, function


def _verifier(config: Config, settings: JwtConfig, key: str) -> JwtVerifier:
    from ..auth.jwt import JwtVerifier  # PyJWT loads only for configs that use it
    from ..errors import AuthError

    try:
        return JwtVerifier(settings)
    except AuthError as exc:
        raise config.error(key, str(exc)) from None
