"""The admin API's JSON endpoints under ``/__mockws/api/``.

``GET connections``, ``GET connections/{id}``, ``GET rooms``,
``POST broadcast`` (``{"data", "rooms", "endpoint"}``),
``POST connections/{id}/send`` (``{"data"}``) and
``POST connections/{id}/close`` (``{"code", "reason"}``). Errors answer
``{"error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..hub.connection import Connection
from ..wire.close import MAX_CLOSE_REASON_BYTES, CloseCode
from .views import connection_view, room_views

if TYPE_CHECKING:
    from ..server.app import MockServer

__all__ = ["AdminApi", "ApiError", "Handler", "json_reply"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """A request the API refuses, with its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_reply(data: Any, status: int = 200) -> web.Response:
    """Return ``data`` as a JSON response with ``status``."""
    text = json.dumps(data, ensure_ascii=False) + "\n"
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (from a client's JSON) has no UTF-8 form; JSON can escape it.
        body = (json.dumps(data) + "\n").encode("ascii")
    return web.Response(status=status, body=body, content_type="application/json", charset="utf-8")


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    try:
        body = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def _data(body: dict[str, Any]) -> Any:
    if "data" not in body:
        raise ApiError(400, "missing 'data': the message to send (JSON; a string goes as text)")
    return body["data"]


def _rooms(body: dict[str, Any]) -> list[str] | None:
    rooms = body.get("rooms")
    if rooms is None:
        return None
    if isinstance(rooms, str):
        rooms = [rooms]
    if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
        raise ApiError(400, "'rooms' must be a room name or a list of room names")
    return rooms


class AdminApi:
    """Request handlers of the admin API for one server.

    Args:
        server: The server whose hub the API reads and drives.
    """

    def __init__(self, server: MockServer) -> None:
        self.server = server

    def _connection(self, request: web.Request) -> Connection:
        conn_id = request.match_info["conn_id"]
        conn = self.server.hub.get(conn_id)
        if conn is None:
            raise ApiError(404, f"no open connection {conn_id!r}")
        return conn

    def _endpoint(self, body: dict[str, Any]) -> str | None:
        pattern = body.get("endpoint")
        if pattern is None:
            return None
        known = [endpoint.pattern for endpoint in self.server.endpoints]
        if pattern not in known:
            raise ApiError(
                400, f"no endpoint with pattern {pattern!r}; endpoints: {', '.join(known)}"
            )
        return str(pattern)

    async def connections(self, request: web.Request) -> web.Response:
        """``GET connections``: every open connection."""
        conns = self.server.hub.connections.values()
        return json_reply({"connections": [connection_view(conn) for conn in conns]})

    async def connection(self, request: web.Request) -> web.Response:
        """``GET connections/{id}``: one open connection."""
        return json_reply(connection_view(self._connection(request)))

    async def rooms(self, request: web.Request) -> web.Response:
        """``GET rooms``: every room with its members."""
        return json_reply({"rooms": room_views(self.server.hub)})

    async def broadcast(self, request: web.Request) -> web.Response:
        """``POST broadcast``: send ``data`` to rooms, an endpoint, or everyone."""
        body = await _body(request)
        data = _data(body)
        rooms = _rooms(body)
        endpoint = self._endpoint(body)
        try:
            reached = await self.server.hub.broadcast(data, rooms=rooms, endpoint=endpoint)
        except TypeError as exc:
            raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        return json_reply({"reached": reached})

    async def send(self, request: web.Request) -> web.Response:
        """``POST connections/{id}/send``: send ``data`` to one connection."""
        conn = self._connection(request)
        data = _data(await _body(request))
        try:
            sent = await conn.send(data)
        except TypeError as exc:
            raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        return json_reply({"sent": sent})

    async def close(self, request: web.Request) -> web.Response:
        """``POST connections/{id}/close``: close one connection with a code and reason."""
        conn = self._connection(request)
        body = await _body(request)
        code = body.get("code", 1000)
        reason = body.get("reason", "")
        if not CloseCode.sendable(code):
            raise ApiError(400, f"'code' must be 1000-1003, 1007-1014 or 3000-4999, got {code!r}")
        if (
            not isinstance(reason, str)
            or len(reason.encode("utf-8", "replace")) > MAX_CLOSE_REASON_BYTES
        ):
            raise ApiError(400, "'reason' must be a string of at most 123 bytes")
        await conn.close(code, reason)
        return json_reply({"closed": True, "code": code, "reason": reason})

    def routes(self, prefix: str) -> list[tuple[str, str, Handler]]:
        """Return the API's routes under ``prefix`` as (method, path, handler)."""
        return [
            ("GET", f"{prefix}/connections", self.connections),
            ("GET", f"{prefix}/connections/{{conn_id}}", self.connection),
            ("GET", f"{prefix}/rooms", self.rooms),
            ("POST", f"{prefix}/broadcast", self.broadcast),
            ("POST", f"{prefix}/connections/{{conn_id}}/send", self.send),
            ("POST", f"{prefix}/connections/{{conn_id}}/close", self.close),
        ]
