"""Validate the top-level ``http:`` list: HTTP routes served beside the sockets.

Each entry is ``route: METHOD /path/{param}`` with at most one body
(``json``, ``text``, ``file`` or ``handler``) and optional ``status``,
``headers``, ``delay``, side effects on the sockets (``broadcast`` with
``rooms``, ``send_to_user``) and ``bearer``. Every error names the file,
line and key, as the rest of the config does (see docs/http.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .keys import KeyReader, describe_value, expand_env
from .model import EndpointConfig, HttpRouteConfig, JwtConfig, SendToUser
from .patterns import CompiledPattern, PatternError, compile_pattern
from .templates import Template, compile_value
from .yaml_source import SourceMap

__all__ = [
    "BODY_KINDS",
    "HTTP_METHODS",
    "ROUTE_KEYS",
    "file_placeholders",
    "parse_http_routes",
    "split_handler",
]

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ANY")
BODY_KINDS = ("json", "text", "file", "handler")
ROUTE_KEYS = (
    "route",
    *BODY_KINDS,
    "status",
    "headers",
    "delay",
    "broadcast",
    "rooms",
    "send_to_user",
    "bearer",
)
_SEND_TO_USER_KEYS = ("user", "data")
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Set by mockws itself: a route that sets them would answer with two values.
_RESERVED_HEADERS = frozenset({"content-length", "transfer-encoding"})


def file_placeholders(path: str) -> list[str]:
    """Return the ``{name}`` placeholders of a ``file:`` path, left to right."""
    return _PLACEHOLDER.findall(path)


def split_handler(target: str) -> tuple[str, str]:
    """Split ``handlers/http.py:login`` into the module and the function name.

    Raises:
        ValueError: There is no ``:function`` part, or it is not an identifier.
    """
    module, sep, function = target.rpartition(":")
    if not sep or not module:
        raise ValueError(f"expected 'file.py:function' or 'dotted.module:function', got {target!r}")
    if not function.isidentifier():
        raise ValueError(f"{function!r} is not a function name (in {target!r})")
    return module, function


def _expand_tree(value: Any, source: SourceMap, key: str) -> Any:
    """Expand ``${VAR}`` in every string of a JSON-like value."""
    if isinstance(value, str):
        return expand_env(value, source, key)
    if isinstance(value, Mapping):
        return {str(k): _expand_tree(v, source, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_expand_tree(item, source, f"{key}[{index}]") for index, item in enumerate(value)]
    return value


def _parse_route(section: KeyReader) -> tuple[str, CompiledPattern]:
    text = section.string("route", required=True)
    assert text is not None
    method, _, pattern = text.strip().partition(" ")
    pattern = pattern.strip()
    if not pattern:
        raise section.error("route", f"expected 'METHOD /path' (like 'GET /api/me'), got {text!r}")
    method = method.upper()
    if method not in HTTP_METHODS:
        raise section.error(
            "route", f"unknown method {method!r}; use one of {', '.join(HTTP_METHODS)}"
        )
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        raise section.error("route", str(exc)) from None
    return method, compiled


def _template(section: KeyReader, name: str, value: Any) -> Template:
    """Expand ``${VAR}`` in ``value``, then compile the templates in it."""
    key = section.path(name)
    return compile_value(_expand_tree(value, section.source, key), key, section.source)


def _parse_body(section: KeyReader, compiled: CompiledPattern, base_dir: Path) -> tuple[str, Any]:
    given = [kind for kind in BODY_KINDS if section.has(kind)]
    if len(given) > 1:
        raise section.error(given[1], f"give one of {', '.join(BODY_KINDS)}, not {given[0]} too")
    if not given:
        return "empty", None
    kind = given[0]
    if kind == "json":
        return kind, _template(section, "json", section.raw("json"))
    value = section.string(kind)
    if value is None:
        raise section.error(kind, "expected a string, got null")
    if kind == "text":
        return kind, compile_value(value, section.path(kind), section.source)
    if kind == "handler":
        try:
            split_handler(value)
        except ValueError as exc:
            raise section.error(kind, str(exc)) from None
    elif kind == "file":
        _check_file(section, value, compiled, base_dir)
    return kind, value


def _check_file(section: KeyReader, value: str, compiled: CompiledPattern, base_dir: Path) -> None:
    for name in file_placeholders(value):
        if name not in compiled.param_names:
            known = ", ".join(f"{{{n}}}" for n in compiled.param_names) or "none"
            raise section.error(
                "file", f"{{{name}}} is not a parameter of the route (its parameters: {known})"
            )
    if not value.strip():
        raise section.error("file", "expected a file path relative to the config folder")
    # Placeholders stand for one path segment each; "x" is one that stays put.
    sample = _PLACEHOLDER.sub("x", value)
    resolved = (base_dir / sample).resolve()
    if not resolved.is_relative_to(base_dir):
        raise section.error(
            "file", f"{value!r} is outside the config folder {base_dir}; files must be inside it"
        )


def _parse_headers(section: KeyReader) -> tuple[tuple[str, Template], ...]:
    inner = section.child("headers", "a mapping of header names to values")
    if inner is None:
        return ()
    headers: list[tuple[str, Template]] = []
    raw = section.raw("headers")
    for name in raw:
        key = str(name)
        if not _HEADER_NAME.match(key):
            raise inner.error(key, f"{key!r} is not a valid header name")
        if key.lower() in _RESERVED_HEADERS:
            raise inner.error(key, f"{key} is set by mockws from the body")
        value = inner.raw(key)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise inner.error(key, f"expected a string or number, got {describe_value(value)}")
        text = expand_env(str(value), section.source, inner.path(key))
        if "\r" in text or "\n" in text:
            raise inner.error(key, "a header value cannot contain a line break")
        headers.append((key, compile_value(text, inner.path(key), section.source)))
    return tuple(headers)


def _parse_send_to_user(section: KeyReader) -> SendToUser | None:
    inner = section.child("send_to_user", "a mapping {user, data}")
    if inner is None:
        return None
    user = inner.string("user", required=True)
    if not user:
        raise inner.error("user", "expected a user id (conn.user_id)")
    result = SendToUser(
        user=compile_value(user, inner.path("user"), section.source),
        data=_template(inner, "data", inner.require("data")),
    )
    inner.finish(_SEND_TO_USER_KEYS)
    return result


def _parse_bearer(section: KeyReader, endpoints: Sequence[EndpointConfig]) -> str | None:
    pattern = section.string("bearer")
    if pattern is None:
        return None
    found = next((e for e in endpoints if e.pattern == pattern), None)
    jwt_patterns = [e.pattern for e in endpoints if isinstance(e.authenticate, JwtConfig)]
    if found is None or not isinstance(found.authenticate, JwtConfig):
        known = ", ".join(jwt_patterns) or "none in this config"
        raise section.error(
            "bearer",
            f"{pattern!r} is not an endpoint with 'authenticate: {{jwt: ...}}' "
            f"(JWT endpoints: {known})",
        )
    return pattern


def _parse_one(
    data: object, key: str, source: SourceMap, base_dir: Path, endpoints: Sequence[EndpointConfig]
) -> tuple[HttpRouteConfig, CompiledPattern]:
    section = KeyReader(data, key, source, "a mapping with 'route: METHOD /path'")
    method, compiled = _parse_route(section)
    kind, content = _parse_body(section, compiled, base_dir)
    status = section.raw("status")
    if status is not None:
        status = section.integer("status", 200, minimum=100, maximum=599)
    raw_broadcast = section.raw("broadcast")
    broadcast = None if raw_broadcast is None else _template(section, "broadcast", raw_broadcast)
    room_names = section.string_list("rooms")
    if room_names is not None and broadcast is None:
        raise section.error("rooms", "rooms limit a 'broadcast'; this route has none")
    rooms = None
    if room_names is not None:
        rooms = compile_value(list(room_names), section.path("rooms"), source)
    route = HttpRouteConfig(
        method=method,
        pattern=compiled.pattern,
        kind=kind,
        content=content,
        status=status,
        headers=_parse_headers(section),
        delay=section.duration_range("delay"),
        broadcast=broadcast,
        rooms=rooms,
        send_to_user=_parse_send_to_user(section),
        bearer=_parse_bearer(section, endpoints),
    )
    section.finish(ROUTE_KEYS)
    return route, compiled


def parse_http_routes(
    data: object, source: SourceMap, base_dir: Path, endpoints: Sequence[EndpointConfig]
) -> tuple[HttpRouteConfig, ...]:
    """Validate the ``http:`` list into routes, in match priority order.

    Args:
        data: The list as parsed (None for no routes).
        source: Line numbers of the keys, for errors.
        base_dir: The config folder; ``file:`` paths must stay inside it.
        endpoints: The config's WebSocket endpoints: a route may not have
            one's pattern, and ``bearer`` names one.

    Raises:
        ConfigError: A key is unknown or has the wrong type, a route is
            malformed, a file escapes the config folder, a route sits on a
            WebSocket pattern, or a route could never match (an earlier one
            with the same method and pattern shape takes all its requests).
    """
    if data is None:
        return ()
    if not isinstance(data, (list, tuple)):
        raise source.error("http", f"expected a list of routes, got {describe_value(data)}")
    socket_shapes = {compile_pattern(e.route_pattern).shape: e.pattern for e in endpoints}
    seen: dict[tuple[str, str], str] = {}
    routes: list[HttpRouteConfig] = []
    for index, item in enumerate(data):
        key = f"http[{index}]"
        route, compiled = _parse_one(item, key, source, base_dir, endpoints)
        if compiled.shape in socket_shapes:
            raise source.error(
                f"{key}.route",
                f"{route.route} is on the pattern of the WebSocket endpoint "
                f"{socket_shapes[compiled.shape]}; give the route another path",
            )
        takers = (route.method, "ANY", "GET") if route.method == "HEAD" else (route.method, "ANY")
        for method in takers:
            earlier = seen.get((method, compiled.shape))
            if earlier is not None:
                raise source.error(
                    f"{key}.route", f"{route.route} can never match: {earlier} comes first"
                )
        seen.setdefault((route.method, compiled.shape), route.route)
        routes.append(route)
    return tuple(routes)
