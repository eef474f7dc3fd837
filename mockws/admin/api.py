"""The admin API's JSON endpoints under ``/__mockws/api/``.

``GET connections``, ``GET connections/{id}``, ``GET rooms``,
``POST broadcast`` (``{"data", "rooms", "endpoint", "event"}``),
``POST connections/{id}/send`` (``{"data", "event"}``), ``POST users/{user}/send``
(``{"data"}``),
``POST connections/{id}/close`` (``{"code", "reason"}``),
``POST connections/{id}/fault`` (``{"abort": true}``, ``{"stall": true}``,
``{"close": {"code": 1012}}``, ``{"latency": "200ms"}``, ``{"drop": 0.1}``) and
``POST endpoints/faults`` (``{"endpoint": PATTERN, "faults": {...}}``). Errors
answer ``{"error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..config.faults import connection_fault_from_data, faults_from_data
from ..errors import ConfigError, MockwsError
from ..hub.broker import Cluster
from ..hub.connection import Connection
from ..hub.sio_connection import SioConnection
from ..wire.close import MAX_CLOSE_REASON_BYTES, CloseCode
from .views import cluster_views, connection_view, remote_view

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


def _event(body: dict[str, Any]) -> str | None:
    event = body.get("event")
    if event is None:
        return None
    if not isinstance(event, str) or not event:
        raise ApiError(400, "'event' must be a Socket.IO event name (a non-empty string)")
    return event


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

    async def _remote(self, conn_id: str) -> dict[str, Any] | None:
        """Return another process's connection ``conn_id`` from the broker's registry."""
        broker = self.server.hub.broker
        if not isinstance(broker, Cluster):
            return None
        try:
            return await broker.remote_connection(conn_id)
        except MockwsError as exc:
            raise ApiError(503, str(exc)) from None

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
        """``GET connections``: every open connection, of every process on the broker."""
        views = await cluster_views(self.server.hub)
        reply: dict[str, Any] = {"connections": views.connections}
        if views.error is not None:
            reply["broker_error"] = views.error
        return json_reply(reply)

    async def connection(self, request: web.Request) -> web.Response:
        """``GET connections/{id}``: one open connection, here or on another process."""
        conn_id = request.match_info["conn_id"]
        conn = self.server.hub.get(conn_id)
        if conn is not None:
            return json_reply(connection_view(conn))
        entry = await self._remote(conn_id)
        if entry is None:
            raise ApiError(404, f"no open connection {conn_id!r}")
        return json_reply(remote_view(entry))

    async def rooms(self, request: web.Request) -> web.Response:
        """``GET rooms``: every room with its members, of every process on the broker."""
        views = await cluster_views(self.server.hub)
        reply: dict[str, Any] = {"rooms": views.rooms}
        if views.error is not None:
            reply["broker_error"] = views.error
        return json_reply(reply)

    async def broadcast(self, request: web.Request) -> web.Response:
        """``POST broadcast``: send ``data`` to rooms, an endpoint, or everyone.

        With ``"event"``, emit that Socket.IO event with ``data`` as its one
        argument to the Socket.IO connections among them.
        """
        body = await _body(request)
        data = _data(body)
        rooms = _rooms(body)
        endpoint = self._endpoint(body)
        event = _event(body)
        try:
            if event is not None:
                reached = await self.server.hub.emit(event, data, rooms=rooms, endpoint=endpoint)
            else:
                reached = await self.server.hub.broadcast(data, rooms=rooms, endpoint=endpoint)
        except TypeError as exc:
            raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        return json_reply({"reached": reached})

    async def send(self, request: web.Request) -> web.Response:
        """``POST connections/{id}/send``: send ``data`` to one connection, on any process.

        With ``"event"``, emit that event with ``data`` as its one argument
        (Socket.IO connections of this process only).
        """
        conn_id = request.match_info["conn_id"]
        conn = self.server.hub.get(conn_id)
        body = await _body(request)
        data = _data(body)
        event = _event(body)
        if conn is not None:
            if event is not None and not isinstance(conn, SioConnection):
                raise ApiError(400, f"{conn.id} is a WebSocket connection: it has no events")
            try:
                if event is None:
                    return json_reply({"sent": await conn.send(data)})
                assert isinstance(conn, SioConnection)
                return json_reply({"sent": await conn.emit(event, data)})
            except TypeError as exc:
                raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        entry = await self._remote(conn_id)
        if entry is None:
            raise ApiError(404, f"no open connection {conn_id!r}")
        if event is not None:
            raise ApiError(409, f"{conn_id} is on another process: send it events there")
        try:
            await self.server.hub.send_to(conn_id, data)
        except TypeError as exc:
            raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        # Queued for the process that has it: it was listed there, not yet seen sent.
        return json_reply({"sent": True, "worker": entry.get("worker")})

    async def send_to_user(self, request: web.Request) -> web.Response:
        """``POST users/{user_id}/send``: send ``data`` to every connection of one user."""
        data = _data(await _body(request))
        try:
            reached = await self.server.hub.send_to_user(request.match_info["user_id"], data)
        except TypeError as exc:
            raise ApiError(400, f"'data' cannot be sent: {exc}") from None
        return json_reply({"reached": reached})

    async def close(self, request: web.Request) -> web.Response:
        """``POST connections/{id}/close``: close one connection with a code and reason."""
        conn_id = request.match_info["conn_id"]
        if self.server.hub.get(conn_id) is None:
            entry = await self._remote(conn_id)
            if entry is not None:
                raise ApiError(
                    409,
                    f"connection {conn_id!r} is on process {entry.get('worker')}: close it from"
                    " that process (its handler or its own admin API)",
                )
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

    async def fault(self, request: web.Request) -> web.Response:
        """``POST connections/{id}/fault``: inject a fault into one connection."""
        conn = self._connection(request)
        try:
            fault = connection_fault_from_data(await _body(request))
            done = await self.server.fault(conn.id, fault)
        except ConfigError as exc:
            raise ApiError(400, f"{exc.key}: {exc.message}" if exc.key else exc.message) from None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return json_reply({"conn_id": conn.id, "done": done})

    async def endpoint_faults(self, request: web.Request) -> web.Response:
        """``POST endpoints/faults``: replace an endpoint's faults until its next config edit."""
        body = await _body(request)
        if "endpoint" not in body:
            raise ApiError(400, "missing 'endpoint': the pattern whose faults to set")
        pattern = self._endpoint(body)
        assert pattern is not None
        try:
            plan = faults_from_data(body.get("faults"))
            self.server.set_faults(pattern, plan)
        except ConfigError as exc:
            raise ApiError(400, f"{exc.key}: {exc.message}" if exc.key else exc.message) from None
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return json_reply({"endpoint": pattern, "faults": plan.describe() if plan else None})

    def _recordings(self) -> dict[str, tuple[str, Path]]:
        found: dict[str, tuple[str, Path]] = {}
        for endpoint in self.server.endpoints:
            if endpoint.recorder is not None:
                for path in endpoint.recorder.files():
                    key = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
                    found[key] = (endpoint.pattern, path)
        return found

    async def recordings(self, request: web.Request) -> web.Response:
        """``GET recordings``: the files the endpoints' ``record`` wrote, with their sizes."""
        items = [
            {
                "id": key,
                "endpoint": pattern,
                "file": str(path),
                "bytes": path.stat().st_size if path.exists() else 0,
            }
            for key, (pattern, path) in self._recordings().items()
        ]
        return json_reply({"recordings": items})

    async def recording(self, request: web.Request) -> web.Response:
        """``GET recordings/{id}``: download one recording as JSON Lines."""
        found = self._recordings().get(request.match_info["recording_id"])
        if found is None or not found[1].is_file():
            raise ApiError(404, "no such recording (see GET recordings)")
        path = found[1]
        return web.Response(
            body=path.read_bytes(),
            content_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
        )

    def routes(self, prefix: str) -> list[tuple[str, str, Handler]]:
        """Return the API's routes under ``prefix`` as (method, path, handler)."""
        return [
            ("GET", f"{prefix}/connections", self.connections),
            ("GET", f"{prefix}/connections/{{conn_id}}", self.connection),
            ("GET", f"{prefix}/rooms", self.rooms),
            ("POST", f"{prefix}/broadcast", self.broadcast),
            ("POST", f"{prefix}/connections/{{conn_id}}/send", self.send),
            ("POST", f"{prefix}/connections/{{conn_id}}/close", self.close),
            ("POST", f"{prefix}/users/{{user_id}}/send", self.send_to_user),
            ("POST", f"{prefix}/connections/{{conn_id}}/fault", self.fault),
            ("POST", f"{prefix}/endpoints/faults", self.endpoint_faults),
            ("GET", f"{prefix}/recordings", self.recordings),
            ("GET", f"{prefix}/recordings/{{recording_id}}", self.recording),
        ]
