"""Answering HTTP requests to the config's routes: CORS, bodies, handlers, pushes to sockets.

:class:`HttpFront` is what :class:`~mockws.server.app.MockServer` asks
first about every request that is not a WebSocket upgrade to an endpoint.
For a route it:

1. answers a CORS preflight, or refuses an origin not in ``allowed_origins`` (403);
2. answers 405 with ``Allow`` when routes match the path but not the method;
3. checks the ``bearer`` token (401 without a valid one);
4. waits the route's ``delay``;
5. builds the answer: ``json``, ``text``, a ``file`` inside the config folder,
   or what the ``handler`` function returns;
6. pushes the route's ``broadcast`` / ``send_to_user`` to the sockets;
7. adds the CORS headers and publishes an inspector row (query and bodies masked).

A handler that raises is logged with its traceback and answers 500; the
server keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import mimetypes
import random
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web
from multidict import CIMultiDict

from ..config.http import file_placeholders
from ..config.model import Config
from ..config.templates import Names, Template, environment_subset
from ..errors import TemplateRenderError
from ..hub.hub import Hub
from ..observe.events import handler_failed, http_exchange
from ..observe.redact import SECRET_QUERY_PARAMS, mask_query
from ..wire.codec import decode_text, encode_message
from . import aiohttp_compat as compat
from .cors import allow_headers, is_preflight, preflight_response
from .handshake import origin_allowed
from .http_routes import (
    CONTENT_TYPES,
    JSON_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    HttpRoute,
    HttpRoutes,
    RouteFound,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["REQUEST_CLAIMS", "REQUEST_HUB", "HttpFront", "file_inside", "parse_body"]

log = logging.getLogger("mockws.http")

REQUEST_CLAIMS: web.RequestKey[dict[str, Any]] = web.RequestKey("mockws_claims", dict)
"""``request[REQUEST_CLAIMS]``: the verified token's claims, in a ``bearer`` route's handler."""
REQUEST_HUB: web.RequestKey[Hub] = web.RequestKey("mockws_hub", Hub)
"""``request[REQUEST_HUB]``: the server's hub, so a handler can push to the sockets."""

_JSON = JSON_CONTENT_TYPE
_TEXT = TEXT_CONTENT_TYPE
_BINARY = "application/octet-stream"
_FORM = "application/x-www-form-urlencoded"


def parse_body(raw: bytes, content_type: str) -> Any:
    """Return a request body as templates see it: parsed JSON, a form's fields, or text.

    An empty body is None; bytes that are not UTF-8 stay bytes.
    """
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if content_type == _FORM:
        from urllib.parse import parse_qsl

        return dict(parse_qsl(text, keep_blank_values=True))
    return decode_text(text, True)


def _json_response(
    data: Any, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    _, payload = encode_message(data)
    return web.Response(
        body=payload, status=status, headers={hdrs.CONTENT_TYPE: _JSON, **(headers or {})}
    )


_NO_CONTENT = web.Response(status=204)  # a placeholder, never sent


class _Answer:
    """What one request got: the response, and what the inspector row shows of it."""

    __slots__ = ("response", "route", "request_body", "pushed")

    def __init__(self, response: web.StreamResponse, route: HttpRoute | None = None) -> None:
        self.response = response
        self.route = route
        self.request_body = b""
        self.pushed = 0


class HttpFront:
    """Answers HTTP requests to the configured routes.

    Args:
        hub: Where ``broadcast`` and ``send_to_user`` push, and whose event
            bus gets the inspector rows.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.routes = HttpRoutes("")
        self.config = Config()
        self.secret_params: Collection[str] = SECRET_QUERY_PARAMS
        self.env: Mapping[str, str] = {}

    def install(self, config: Config, routes: HttpRoutes, secret_params: Collection[str]) -> None:
        """Serve ``routes`` under ``config``'s CORS settings from now on."""
        self.config, self.routes = config, routes
        self.secret_params = secret_params
        self.env = environment_subset(config.template_env)

    async def answer(self, request: web.Request) -> web.StreamResponse | None:
        """Answer ``request`` if it is for a route; None when no route matches its path.

        A CORS preflight is answered whenever routes are configured, so that
        the real request gets its readable 404.
        """
        if not self.routes:
            return None
        started = time.perf_counter()
        origin = request.headers.get(hdrs.ORIGIN)
        if is_preflight(request):
            allowed = origin_allowed(origin, self.config.allowed_origins)
            return self._finish(request, _Answer(preflight_response(request, allowed)), started)
        found = self.routes.match(request.method, request.path)
        if found is None:
            return None
        if origin is not None and not origin_allowed(origin, self.config.allowed_origins):
            log.warning(
                "refused %s %s from origin %s (not in allowed_origins)",
                request.method,
                request.path,
                origin,
            )
            refusal = {"error": f"origin {origin} is not allowed (allowed_origins)"}
            return self._finish(request, _Answer(_json_response(refusal, 403)), started)
        if isinstance(found, tuple):
            allow = ", ".join(found)
            error = {"error": f"{request.method} is not allowed on {request.path}", "allow": found}
            answer = _Answer(_json_response(error, 405, {hdrs.ALLOW: allow}))
        else:
            answer = await self._serve(request, found)
        if origin is not None:
            expose = [name for name, _ in answer.route.config.headers] if answer.route else ()
            if not answer.response.prepared:
                allow_headers(origin, answer.response, expose)
        return self._finish(request, answer, started)

    def not_found(self, request: web.Request, endpoints: Sequence[str]) -> web.Response:
        """Answer a request for a path no route or endpoint serves: 404 with the closest routes."""
        started = time.perf_counter()
        body = {
            "error": f"no route matches {request.method} {request.path}",
            "closest": self.routes.closest(request.method, request.path),
            "endpoints": list(endpoints),
        }
        response = _json_response(body, 404)
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and origin_allowed(origin, self.config.allowed_origins):
            allow_headers(origin, response)
        self._finish(request, _Answer(response), started)
        return response

    def _finish(self, request: web.Request, answer: _Answer, started: float) -> web.StreamResponse:
        events = self.hub.events
        if events.wants_messages:
            response = answer.response
            body = response.body if isinstance(response, web.Response) else None
            events.publish(
                http_exchange(
                    request.method,
                    mask_query(request.path_qs, self.secret_params),
                    response.status,
                    time.perf_counter() - started,
                    route=answer.route.route if answer.route is not None else None,
                    remote=request.remote,
                    request_body=answer.request_body,
                    response_body=body if isinstance(body, bytes) else b"",
                    pushed=answer.pushed,
                )
            )
        return answer.response

    async def _serve(self, request: web.Request, found: RouteFound) -> _Answer:
        route = found.route
        config = route.config
        claims: dict[str, Any] | None = None
        if route.verifier is not None:
            claims, refusal = self._check_bearer(request, route)
            if refusal is not None:
                return _Answer(refusal, route)
        answer = _Answer(_NO_CONTENT, route)
        # A handler reads the body its own way (request.multipart() streams it):
        # read it first only for the templates, and for the inspector after the handler.
        handler = config.kind == "handler"
        wanted = "body" in route.names or (not handler and self.hub.events.wants_messages)
        if wanted and request.body_exists:
            answer.request_body = await request.read()
        route.calls += 1
        names = self._names(request, route, found.params, claims, answer.request_body)
        if config.delay is not None:
            await asyncio.sleep(random.uniform(config.delay.low, config.delay.high))
        try:
            if handler:
                response = await self._call_handler(request, route, found.params, claims, names)
                if self.hub.events.wants_messages and request.body_exists and not wanted:
                    # Cached when the handler read it; what a stream left, otherwise.
                    answer.request_body = await request.read()
            elif config.kind == "file":
                response = self._file(route, found.params, names)
            else:
                response = self._rendered(route, names)
            answer.response = response
            if response.status < 400:
                answer.pushed = await self._push(route, names)
        except TemplateRenderError as exc:
            log.error("%s: %s", route.route, exc)
            answer.response = _json_response({"error": str(exc)}, 500)
        return answer

    def _names(
        self,
        request: web.Request,
        route: HttpRoute,
        params: Mapping[str, str],
        claims: dict[str, Any] | None,
        raw_body: bytes,
    ) -> Names | None:
        """The names the route's templates read, or None when it has no template."""
        wanted = route.names
        if not wanted:
            return None
        values: dict[str, Any] = {}
        if "body" in wanted:
            values["body"] = parse_body(raw_body, request.content_type)
        if "headers" in wanted:
            values["headers"] = {name.lower(): value for name, value in request.headers.items()}
        if "query" in wanted:
            values["query"] = dict(request.query)
        if "claims" in wanted:
            values["claims"] = claims or {}
        if "token" in wanted:
            values["token"] = functools.partial(_token, self.config)
        values.update(method=request.method, path=request.path, params=dict(params))
        values["seq"] = route.calls
        return Names(values, env=self.env)

    def _check_bearer(
        self, request: web.Request, route: HttpRoute
    ) -> tuple[dict[str, Any] | None, web.Response | None]:
        import jwt  # loaded with the verifier, for bearer routes only

        assert route.verifier is not None
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer realm="mockws"'}
        if scheme.lower() != "bearer" or not token:
            return None, _json_response({"error": "No token provided"}, 401, challenge)
        try:
            return route.verifier.verify(token), None
        except jwt.InvalidTokenError as exc:
            why = str(exc).replace(token, "***") or type(exc).__name__
            return None, _json_response({"error": f"Invalid token: {why}"}, 401, challenge)

    def _headers(
        self, route: HttpRoute, content_type: str | None, names: Names | None
    ) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        if content_type is not None:
            headers[hdrs.CONTENT_TYPE] = content_type
        for name, template in route.config.headers:
            value = str(template.value if names is None else template.render(names))
            if "\r" in value or "\n" in value:
                raise template.error("a header value cannot contain a line break")
            if name.lower() == "content-type":
                headers[name] = value
            else:
                headers.add(name, value)
        return headers

    def _rendered(self, route: HttpRoute, names: Names | None) -> web.Response:
        config = route.config
        body = route.static_body
        if body is not None and names is None:
            # No template anywhere in the route: everything was prepared at load.
            return web.Response(
                body=body or None, status=route.status, headers=route.static_headers
            )
        if body is None:
            assert names is not None and isinstance(config.content, Template)
            value = config.content.render(names)
            if config.kind == "json":
                _, body = encode_message(value)
            else:
                body = str(value).encode("utf-8")
        status = config.status if config.status is not None else (200 if body else 204)
        headers = self._headers(route, CONTENT_TYPES.get(config.kind), names)
        return web.Response(body=body or None, status=status, headers=headers)

    def _file(
        self, route: HttpRoute, params: Mapping[str, str], names: Names | None
    ) -> web.StreamResponse:
        config = route.config
        relative = str(config.content)
        for name in file_placeholders(relative):
            relative = relative.replace(f"{{{name}}}", params[name])
        base = self.config.base_dir
        path = file_inside(base, relative)
        if path is None:
            return _json_response({"error": f"no file {relative!r} in the config folder"}, 404)
        content_type = mimetypes.guess_type(path.name)[0] or _BINARY
        headers = self._headers(route, content_type, names)
        return web.FileResponse(path, status=config.status or 200, headers=headers)

    async def _call_handler(
        self,
        request: web.Request,
        route: HttpRoute,
        params: Mapping[str, str],
        claims: dict[str, Any] | None,
        names: Names | None,
    ) -> web.StreamResponse:
        slot, name = route.slot, route.function
        assert slot is not None and name is not None
        function = slot.hook(name)
        target = f"{slot.spec}:{name}"
        if function is None:
            log.error(
                "%s: %s has no function %r since its last reload", route.route, slot.spec, name
            )
            return _json_response({"error": f"{target} is missing"}, 500)
        compat.set_route_params(request, params)
        request[REQUEST_HUB] = self.hub
        if claims is not None:
            request[REQUEST_CLAIMS] = claims
        try:
            result = await slot.call(function, request)
            return self._from_result(route, result, names)
        except TemplateRenderError:
            raise
        except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the server
            log.error(
                "%s: %s raised (%s %s)", target, name, request.method, request.path, exc_info=exc
            )
            events = self.hub.events
            if events.active:
                events.publish(handler_failed(slot.spec, name, exc))
            return _json_response({"error": f"{target} raised {type(exc).__name__}: {exc}"}, 500)

    def _from_result(
        self, route: HttpRoute, result: Any, names: Names | None
    ) -> web.StreamResponse:
        if isinstance(result, web.StreamResponse):
            return result
        status = route.config.status
        if result is None:
            return web.Response(status=status or 204, headers=self._headers(route, None, names))
        if isinstance(result, str):
            body, content_type = result.encode("utf-8"), _TEXT
        elif isinstance(result, (bytes, bytearray, memoryview)):
            body, content_type = bytes(result), _BINARY
        else:
            _, body = encode_message(result)
            content_type = _JSON
        return web.Response(
            body=body, status=status or 200, headers=self._headers(route, content_type, names)
        )

    async def _push(self, route: HttpRoute, names: Names | None) -> int:
        config = route.config
        reached = 0
        if config.broadcast is not None:
            data = _render(config.broadcast, names)
            rooms = None
            if config.rooms is not None:
                rooms = [str(room) for room in _render(config.rooms, names)]
            reached += await self.hub.broadcast(data, rooms=rooms)
        if config.send_to_user is not None:
            target = config.send_to_user
            user = str(_render(target.user, names))
            reached += await self.hub.send_to_user(user, _render(target.data, names))
        return reached


def _render(template: Template, names: Names | None) -> Any:
    return template.render(names) if names is not None else template.render({})


def _token(
    config: Config,
    endpoint: str,
    sub: Any = None,
    ttl: float | str | None = "1h",
    private_key: str | None = None,
    **claims: Any,
) -> str:
    """``token(endpoint, sub=..., ttl=..., **claims)`` in a route template."""
    from .signing import sign_for  # PyJWT loads only when a template signs

    if sub is not None:
        claims["sub"] = str(sub)
    return sign_for(config, endpoint, claims, ttl=ttl, private_key=private_key)


def file_inside(base: Path, relative: str) -> Path | None:
    """Return ``base / relative`` resolved, if it is a file inside ``base``; else None.

    Symbolic links are followed first, so a link that points out of
    ``base`` is refused too.
    """
    try:
        path = (base / relative).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(base):
        log.warning("refused to serve %s: it is outside the config folder %s", relative, base)
        return None
    return path if path.is_file() else None
