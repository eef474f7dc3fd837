"""HTTP routes over real sockets: every answer kind, params, CORS, pushes to sockets, reload."""

from __future__ import annotations

import asyncio
import json
import textwrap
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl

from mockws.auth.jwt import sign_token
from mockws.config.model import JwtConfig
from mockws.observe.events import Event, HttpExchange
from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint

ROOMS_HANDLER = """
async def on_message(conn, data):
    if data.get("join"):
        conn.join(data["join"])
    if data.get("user"):
        conn.user_id = data["user"]
    await conn.send({"ok": True})
"""

HTTP_HANDLERS = """
from aiohttp import web

from mockws import REQUEST_CLAIMS, REQUEST_HUB

CALLS = []


async def as_dict(request):
    body = await request.json()
    return {"id": request.match_info["id"], "got": body}


def as_list(request):
    return [1, 2, request.query.get("n")]


def as_text(request):
    return "plain " + request.method


def as_bytes(request):
    return b"\\x00\\x01"


async def as_response(request):
    return web.Response(status=418, text="teapot", headers={"X-Own": "yes"})


def as_none(request):
    CALLS.append(request.path)


def broken(request):
    raise ValueError("handler bug")


async def who(request):
    return {"sub": request[REQUEST_CLAIMS]["sub"]}


async def push(request):
    reached = await request[REQUEST_HUB].broadcast({"type": "from-handler"})
    return {"reached": reached}
"""

SECRET = "route-secret"
JWT = {"secret": SECRET, "algorithms": ["HS256"]}


def base(write: WriteFile) -> Path:
    return write("rooms.py", ROOMS_HANDLER).parent


def routes_config(write: WriteFile, routes: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    write("api.py", HTTP_HANDLERS)
    return {
        "endpoints": [
            endpoint("/ws/rooms", "rooms.py"),
            endpoint("/ws/secure", "rooms.py", authenticate={"jwt": JWT}),
        ],
        "http": routes,
        **top,
    }


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, server: RunningServer, method: str, path: str, **options: Any
) -> tuple[int, Mapping[str, str], bytes]:
    async with http.request(method, server.http_url(path), **options) as response:
        return response.status, response.headers, await response.read()


async def test_json_text_and_empty_routes(write: WriteFile, http: aiohttp.ClientSession) -> None:
    """json, text and bodiless routes answer with their status, headers and content type."""
    config = routes_config(
        write,
        [
            {
                "route": "GET /api/me",
                "json": {"id": 1, "name": "alice"},
                "headers": {"X-Mock": "1"},
            },
            {"route": "POST /api/created", "json": [1, 2], "status": 201},
            {"route": "GET /hello", "text": "héllo", "headers": {"Content-Type": "text/html"}},
            {"route": "DELETE /api/me"},
            {"route": "PUT /accepted", "status": 202},
        ],
    )
    async with run_server(config, base_dir=base(write)) as server:
        status, headers, body = await call(http, server, "GET", "/api/me")
        assert (status, json.loads(body), headers["X-Mock"]) == (
            200,
            {"id": 1, "name": "alice"},
            "1",
        )
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        status, _, body = await call(http, server, "POST", "/api/created")
        assert (status, json.loads(body)) == (201, [1, 2])
        status, headers, body = await call(http, server, "GET", "/hello")
        assert (status, body.decode(), headers["Content-Type"]) == (200, "héllo", "text/html")
        status, _, body = await call(http, server, "DELETE", "/api/me")
        assert (status, body) == (204, b"")
        status, _, body = await call(http, server, "PUT", "/accepted")
        assert (status, body) == (202, b"")
        status, headers, body = await call(http, server, "HEAD", "/api/me")
        assert (status, body, headers["X-Mock"]) == (200, b"", "1")


async def test_handler_return_kinds(write: WriteFile, http: aiohttp.ClientSession) -> None:
    """dict/list become JSON, str text, bytes binary; a Response passes through; None is 204."""
    routes = [
        {"route": "POST /h/dict/{id}", "handler": "api.py:as_dict"},
        {"route": "GET /h/list", "handler": "api.py:as_list", "status": 203},
        {"route": "ANY /h/text", "handler": "api.py:as_text"},
        {"route": "GET /h/bytes", "handler": "api.py:as_bytes"},
        {"route": "GET /h/response", "handler": "api.py:as_response"},
        {"route": "GET /h/none", "handler": "api.py:as_none"},
    ]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        status, headers, body = await call(http, server, "POST", "/h/dict/42", json={"name": "bob"})
        assert (status, json.loads(body)) == (200, {"id": "42", "got": {"name": "bob"}})
        status, _, body = await call(http, server, "GET", "/h/list?n=3")
        assert (status, json.loads(body)) == (203, [1, 2, "3"])
        status, headers, body = await call(http, server, "PATCH", "/h/text")
        assert (status, body, headers["Content-Type"]) == (
            200,
            b"plain PATCH",
            "text/plain; charset=utf-8",
        )
        status, headers, body = await call(http, server, "GET", "/h/bytes")
        assert (body, headers["Content-Type"]) == (b"\x00\x01", "application/octet-stream")
        status, headers, body = await call(http, server, "GET", "/h/response")
        assert (status, body, headers["X-Own"]) == (418, b"teapot", "yes")
        status, _, body = await call(http, server, "GET", "/h/none")
        assert (status, body) == (204, b"")


async def test_a_handler_that_raises_answers_500_and_the_server_keeps_serving(
    write: WriteFile, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The error is logged with its traceback; the next request is answered."""
    routes = [
        {"route": "GET /broken", "handler": "api.py:broken"},
        {"route": "GET /fine", "json": {"ok": True}},
    ]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        status, _, body = await call(http, server, "GET", "/broken")
        assert status == 500
        assert "api.py:broken raised ValueError: handler bug" in json.loads(body)["error"]
        assert (await call(http, server, "GET", "/fine"))[0] == 200
    record = next(r for r in caplog.records if "api.py:broken" in r.getMessage())
    assert record.exc_info is not None and "handler bug" in str(record.exc_info[1])


async def test_file_routes_serve_inside_the_folder_only(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """file: fills {params}; a path out of the folder (dots, a link) is 404 at run time."""
    write("fixtures/users.json", '{"users": []}')
    outside = write("x", "").parent.parent / "outside-http-test.txt"
    outside.write_text("secret")
    routes = [{"route": "GET /files/{name}", "file": "fixtures/{name}"}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        status, headers, body = await call(http, server, "GET", "/files/users.json")
        assert (status, body, headers["Content-Type"]) == (
            200,
            b'{"users": []}',
            "application/json",
        )
        assert (await call(http, server, "GET", "/files/missing.json"))[0] == 404
        # A link made after the config loaded, pointing out of the folder.
        (base(write) / "fixtures" / "link.txt").symlink_to(outside)
        status, _, body = await call(http, server, "GET", "/files/link.txt")
        assert status == 404 and b"secret" not in body
        url = yarl.URL(server.http_url("/files/%2E%2E"), encoded=True)
        async with http.get(url) as response:
            assert response.status == 404
            assert b"secret" not in await response.read()


async def test_delay_holds_the_answer(write: WriteFile, http: aiohttp.ClientSession) -> None:
    """delay: 300ms answers no sooner than 300 ms after the request."""
    routes = [{"route": "GET /slow", "json": {}, "delay": "300ms"}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        started = time.perf_counter()
        assert (await call(http, server, "GET", "/slow"))[0] == 200
        assert time.perf_counter() - started >= 0.29


async def test_404_lists_the_closest_routes_and_405_says_allow(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """An unknown path gets 404 JSON with the nearest routes; a wrong method 405 with Allow."""
    routes = [
        {"route": "GET /api/users/{id}", "json": {}},
        {"route": "POST /api/users/{id}", "json": {}},
        {"route": "GET /api/orders", "json": {}},
    ]
    config = routes_config(write, routes, prefix="/v1")
    async with run_server(config, base_dir=base(write)) as server:
        status, _, body = await call(http, server, "GET", "/v1/api/user/3")
        found = json.loads(body)
        assert status == 404
        assert found["error"] == "no route matches GET /v1/api/user/3"
        assert found["closest"][0] == "GET /v1/api/users/{id}"
        assert any(url.endswith("/v1/ws/rooms") for url in found["endpoints"])
        status, headers, body = await call(http, server, "DELETE", "/v1/api/users/3")
        assert (status, headers["Allow"]) == (405, "GET, HEAD, POST")
        assert json.loads(body)["allow"] == ["GET", "HEAD", "POST"]
        assert (await call(http, server, "GET", "/api/orders"))[0] == 404
        assert (await call(http, server, "GET", "/v1/api/orders"))[0] == 200


async def test_cors_allowed_refused_and_preflight(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """An allowed origin gets its CORS headers and its preflight; another gets 403."""
    app = "http://localhost:5173"
    routes = [{"route": "PUT /api/item", "json": {"ok": True}, "headers": {"X-Mock": "1"}}]
    config = routes_config(write, routes, allowed_origins=[app])
    async with run_server(config, base_dir=base(write)) as server:
        asked = {
            "Origin": app,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type, x-trace",
        }
        status, headers, _ = await call(http, server, "OPTIONS", "/api/item", headers=asked)
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == app
        assert headers["Access-Control-Allow-Methods"] == "PUT"
        assert headers["Access-Control-Allow-Headers"] == "content-type, x-trace"
        status, headers, _ = await call(http, server, "PUT", "/api/item", headers={"Origin": app})
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == app
        assert headers["Access-Control-Allow-Credentials"] == "true"
        assert headers["Access-Control-Expose-Headers"] == "X-Mock"
        evil = {**asked, "Origin": "http://evil.example"}
        status, headers, _ = await call(http, server, "OPTIONS", "/api/item", headers=evil)
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        status, headers, body = await call(
            http, server, "PUT", "/api/item", headers={"Origin": "http://evil.example"}
        )
        assert status == 403 and "Access-Control-Allow-Origin" not in headers
        assert b'"ok"' not in body
        # Without an Origin (curl, a test client) there is nothing to refuse.
        assert (await call(http, server, "PUT", "/api/item"))[0] == 200


async def test_a_post_broadcasts_to_a_room_and_sends_to_a_user(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """broadcast + rooms reaches the room's members only; send_to_user the user's sockets."""
    routes = [
        {
            "route": "POST /api/orders",
            "json": {"ok": True},
            "status": 201,
            "broadcast": {"type": "order_created"},
            "rooms": ["orders"],
        },
        {"route": "POST /api/notify", "send_to_user": {"user": "bob", "data": {"type": "note"}}},
        {"route": "POST /api/hub", "handler": "api.py:push"},
    ]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        members = [await server.connect("/ws/rooms") for _ in range(2)]
        for member in members:
            await member.send({"join": "orders"})
            assert await member.receive_json() == {"ok": True}
        bob = await server.connect("/ws/rooms")
        await bob.send({"user": "bob"})
        assert await bob.receive_json() == {"ok": True}
        status, _, body = await call(http, server, "POST", "/api/orders")
        assert (status, json.loads(body)) == (201, {"ok": True})
        for member in members:
            assert await member.receive_json() == {"type": "order_created"}
        await bob.expect_no_message()
        assert (await call(http, server, "POST", "/api/notify"))[0] == 204
        assert await bob.receive_json() == {"type": "note"}
        await members[0].expect_no_message()
        status, _, body = await call(http, server, "POST", "/api/hub")
        assert json.loads(body) == {"reached": 3}
        assert await bob.receive_json() == {"type": "from-handler"}


async def test_bearer_routes_check_the_token_of_a_jwt_endpoint(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """bearer: 401 without a token or with a bad one; the claims reach the handler."""
    routes = [{"route": "GET /api/who", "handler": "api.py:who", "bearer": "/ws/secure"}]
    good = sign_token(JwtConfig(algorithms=("HS256",), secret=SECRET), {"sub": "ann"}, ttl=60)
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        status, headers, body = await call(http, server, "GET", "/api/who")
        assert (status, json.loads(body)["error"]) == (401, "No token provided")
        assert headers["WWW-Authenticate"].startswith("Bearer")
        bad = {"Authorization": "Bearer not.a.token"}
        status, _, body = await call(http, server, "GET", "/api/who", headers=bad)
        assert status == 401 and json.loads(body)["error"].startswith("Invalid token")
        auth = {"Authorization": f"Bearer {good}"}
        status, _, body = await call(http, server, "GET", "/api/who", headers=auth)
        assert (status, json.loads(body)) == (200, {"sub": "ann"})


async def test_upgrades_keep_going_to_their_endpoint(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """A route whose pattern also matches an endpoint's path takes plain requests, not upgrades."""
    routes = [{"route": "GET /ws/{name}", "text": "a page"}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        assert (await call(http, server, "GET", "/ws/rooms"))[2] == b"a page"
        client = await server.connect("/ws/rooms")
        await client.send({"join": "x"})
        assert await client.receive_json() == {"ok": True}


async def test_inspector_rows_mask_the_query_and_bodies(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """Each request becomes one HttpExchange event; secrets in the query and bodies are masked."""
    routes = [{"route": "POST /api/login", "json": {"token": "issued-secret", "ok": True}}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        seen: list[Event] = []
        unsubscribe = server.hub.events.subscribe(seen.append)
        try:
            await call(
                http,
                server,
                "POST",
                "/api/login?token=query-secret&x=1",
                json={"user": "ann", "password": "hunter2"},
            )
            await call(http, server, "GET", "/nowhere")
        finally:
            unsubscribe()
    rows = [event for event in seen if isinstance(event, HttpExchange)]
    login, missing = rows
    assert (login.method, login.status, login.route) == ("POST", 200, "POST /api/login")
    assert login.path == "/api/login?token=***&x=1"
    assert '"password": "***"' in login.request_preview and "ann" in login.request_preview
    assert '"token":"***"' in login.response_preview
    assert "secret" not in login.request_preview + login.response_preview + login.path
    assert login.duration >= 0 and login.response_size > 0
    assert (missing.status, missing.route) == (404, None)


async def test_reload_applies_edited_routes_and_handler_modules(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """An edited config swaps the routes; an edited handler module answers the next request."""
    write("api.py", HTTP_HANDLERS)
    write("rooms.py", ROOMS_HANDLER)
    config_text = textwrap.dedent(
        """
        endpoints:
          - pattern: /ws/rooms
            handler: rooms.py
        http:
          - route: GET /api/version
            json: {{version: {version}}}
          - route: GET /api/text
            handler: api.py:as_text
        """
    )
    path = write("mockws.yaml", config_text.format(version=1))
    async with run_server(path, reload=True) as server:
        assert json.loads((await call(http, server, "GET", "/api/version"))[2]) == {"version": 1}
        async with server.reloaded() as done:
            write("mockws.yaml", config_text.format(version=2) + "  - route: GET /api/new\n")
        assert done.report is not None and done.report.ok, done.report
        assert "+GET /api/new" in done.report.describe()
        assert json.loads((await call(http, server, "GET", "/api/version"))[2]) == {"version": 2}
        assert (await call(http, server, "GET", "/api/new"))[0] == 204
        async with server.reloaded() as done:
            write("api.py", HTTP_HANDLERS.replace('"plain "', '"reloaded "'))
        assert done.report is not None and done.report.ok, done.report
        assert (await call(http, server, "GET", "/api/text"))[2] == b"reloaded GET"


async def test_no_routes_keeps_the_plain_404(write: WriteFile, http: aiohttp.ClientSession) -> None:
    """Without http: routes, an unknown path still gets the text 404 listing the endpoints."""
    config = {"endpoints": [endpoint("/ws/rooms", "rooms.py")]}
    async with run_server(config, base_dir=base(write)) as server:
        status, _, body = await call(http, server, "GET", "/nope")
        assert status == 404 and b"No endpoint matches /nope" in body
        status, headers, _ = await call(http, server, "POST", "/ws/rooms")
        assert (status, headers["Allow"]) == (405, "GET")


async def test_concurrent_delayed_requests_do_not_wait_for_each_other(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """Ten requests to a 300 ms route finish in about 300 ms, not 3 s."""
    routes = [{"route": "GET /slow", "json": {}, "delay": "300ms"}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        started = time.perf_counter()
        results = await asyncio.gather(*(call(http, server, "GET", "/slow") for _ in range(10)))
        assert all(status == 200 for status, _, _ in results)
        assert time.perf_counter() - started < 2.0


async def test_templates_see_body_headers_method_params_query_and_seq(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """Route templates render per request; one {{ }} keeps the native type."""
    routes = [
        {
            "route": "ANY /echo/{id}",
            "json": {
                "id": "{{ params.id }}",
                "method": "{{ method }}",
                "name": "{{ body.name }}",
                "tags": "{{ body.tags }}",
                "trace": "{{ headers['x-trace'] }}",
                "n": "{{ query.n | int + 1 }}",
                "seq": "{{ seq }}",
                "uuid": "{{ uuid }}",
                "greeting": "hi {{ body.name }}",
            },
            "headers": {"X-Seq": "{{ seq }}"},
        },
        {"route": "POST /form", "text": "{{ body.a }}-{{ body.b }}"},
        {"route": "GET /broken", "json": {"x": "{{ query.missing }}"}},
    ]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        for seq in (1, 2):
            status, headers, body = await call(
                http,
                server,
                "PUT",
                "/echo/7?n=41",
                json={"name": "ann", "tags": ["a", "b"]},
                headers={"X-Trace": "t-1"},
            )
            found = json.loads(body)
            assert status == 200 and headers["X-Seq"] == str(seq)
            assert {key: found[key] for key in found if key != "uuid"} == {
                "id": "7",
                "method": "PUT",
                "name": "ann",
                "tags": ["a", "b"],
                "trace": "t-1",
                "n": 42,
                "seq": seq,
                "greeting": "hi ann",
            }
            assert len(found["uuid"]) == 36
        status, _, body = await call(http, server, "POST", "/form", data={"a": "1", "b": "2"})
        assert (status, body) == (200, b"1-2")
        status, _, body = await call(http, server, "GET", "/broken")
        assert status == 500 and "http[2].json.x" in json.loads(body)["error"]


async def test_token_function_signs_for_a_jwt_endpoint_and_broadcast_carries_the_body(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """token() hands out a token the socket endpoint accepts; a templated broadcast reaches it."""
    routes = [
        {
            "route": "POST /api/login",
            "json": {"token": "{{ token('/ws/secure', sub=body.user, ttl='5m', role='admin') }}"},
        },
        {
            "route": "POST /api/say",
            "broadcast": {"type": "said", "text": "{{ body.text }}", "n": "{{ seq }}"},
            "rooms": ["{{ query.room }}"],
        },
    ]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        status, _, body = await call(http, server, "POST", "/api/login", json={"user": "ann"})
        assert status == 200
        token = json.loads(body)["token"]
        client = await server.connect("/ws/secure", query={"token": token})
        await client.send({"join": "r1"})
        assert await client.receive_json() == {"ok": True}
        (conn,) = [c for c in server.hub.connections.values() if c.endpoint == "/ws/secure"]
        assert conn.user_id == "ann" and conn.auth_data["role"] == "admin"
        assert conn.auth_data["exp"] - conn.auth_data["iat"] == 300
        status, _, _ = await call(http, server, "POST", "/api/say?room=r1", json={"text": "hey"})
        assert status == 204
        assert await client.receive_json() == {"type": "said", "text": "hey", "n": 1}


async def test_templates_read_only_the_listed_environment(
    write: WriteFile, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """env holds the variables template_env lists, and no other."""
    monkeypatch.setenv("MOCK_HTTP_SHOWN", "visible")
    monkeypatch.setenv("MOCK_HTTP_HIDDEN", "secret")
    routes = [{"route": "GET /env", "json": "{{ env }}"}]
    config = routes_config(write, routes, template_env=["MOCK_HTTP_SHOWN"])
    async with run_server(config, base_dir=base(write)) as server:
        assert json.loads((await call(http, server, "GET", "/env"))[2]) == {
            "MOCK_HTTP_SHOWN": "visible"
        }


async def test_a_handler_can_stream_a_multipart_body_while_the_inspector_listens(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    """mockws does not read a handler route's body first, so request.multipart() still works."""
    write(
        "upload.py",
        """
async def upload(request):
    reader = await request.multipart()
    part = await reader.next()
    return {"name": part.name, "data": (await part.read()).decode()}
""",
    )
    routes = [{"route": "POST /upload", "handler": "upload.py:upload"}]
    async with run_server(routes_config(write, routes), base_dir=base(write)) as server:
        seen: list[Event] = []
        unsubscribe = server.hub.events.subscribe(seen.append)
        try:
            form = aiohttp.FormData()
            form.add_field("photo", b"jpeg-bytes", filename="a.jpg")
            status, _, body = await call(http, server, "POST", "/upload", data=form)
        finally:
            unsubscribe()
    assert (status, json.loads(body)) == (200, {"name": "photo", "data": "jpeg-bytes"})
    assert [e.status for e in seen if isinstance(e, HttpExchange)] == [200]
