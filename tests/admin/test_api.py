"""The admin API, its access rules and the admin_token key (mockws/admin/)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from mockws import Config, MockServer
from mockws.admin import inspector_url
from mockws.admin.access import is_loopback
from mockws.config import load_config
from mockws.errors import ConfigError
from mockws.testing import RunningServer, run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint


@pytest.fixture
async def server(write: WriteFile) -> AsyncIterator[RunningServer]:
    write("cmd.py", COMMAND_HANDLER)
    write("other.py", "")
    config = {"endpoints": [endpoint("/cmd", "cmd.py"), endpoint("/other/{n}", "other.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    server: RunningServer,
    method: str,
    path: str,
    body: Any = None,
    **options: Any,
) -> tuple[int, Any]:
    """Call the admin API and return the status and the parsed JSON answer."""
    url = f"http://127.0.0.1:{server.port}/__mockws/api/{path}"
    async with http.request(method, url, json=body, **options) as response:
        return response.status, await response.json(content_type=None)


async def test_connections_and_rooms_describe_the_hub(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """GET connections and rooms list ids, endpoints, masked paths, users, rooms and counts."""
    alice = await server.connect("/cmd", query={"token": "s3cret"})
    await command(alice, op="join", room="dashboard")
    await command(alice, op="set_user", user="alice")
    bob = await server.connect("/other/7")
    status, listed = await call(http, server, "GET", "connections")
    assert status == 200
    by_id = {conn["id"]: conn for conn in listed["connections"]}
    assert set(by_id) == {"c1", "c2"}
    assert by_id["c1"]["path"] == "/cmd?token=***"
    assert (by_id["c1"]["user"], by_id["c1"]["rooms"]) == ("alice", ["dashboard"])
    assert (by_id["c1"]["messages_in"], by_id["c1"]["messages_out"]) == (2, 2)
    assert by_id["c2"]["endpoint"] == "/other/{n}" and by_id["c2"]["params"] == {"n": "7"}
    assert by_id["c1"]["connected_at"] <= by_id["c2"]["connected_at"]
    status, one = await call(http, server, "GET", "connections/c2")
    assert (status, one["path"]) == (200, "/other/7")
    status, rooms = await call(http, server, "GET", "rooms")
    assert rooms == {"rooms": [{"name": "dashboard", "members": ["c1"]}]}
    await bob.close()


async def test_broadcast_to_a_room_an_endpoint_or_everyone(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """POST broadcast reaches the rooms' members, an endpoint's connections, or everyone."""
    member = await server.connect("/cmd")
    await command(member, op="join", room="dashboard")
    outsider = await server.connect("/cmd")
    other = await server.connect("/other/1")
    status, reply = await call(
        http, server, "POST", "broadcast", {"data": {"cpu": 42}, "rooms": ["dashboard"]}
    )
    assert (status, reply) == (200, {"reached": 1})
    assert await member.receive_json() == {"cpu": 42}
    _, reply = await call(http, server, "POST", "broadcast", {"data": "hi", "endpoint": "/cmd"})
    assert reply == {"reached": 2}
    assert [await member.receive(), await outsider.receive()] == ["hi", "hi"]
    _, reply = await call(http, server, "POST", "broadcast", {"data": [1]})
    assert reply == {"reached": 3}
    assert await other.receive_json() == [1]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"rooms": ["r"]}, "missing 'data'"),
        ({"data": 1, "rooms": [1]}, "'rooms' must be"),
        ({"data": 1, "endpoint": "/nope"}, "no endpoint with pattern '/nope'; endpoints: /cmd"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
async def test_broadcast_rejects_bad_bodies(
    server: RunningServer, http: aiohttp.ClientSession, body: Any, error: str
) -> None:
    """A broadcast body without data, with bad rooms or an unknown endpoint is a 400."""
    status, reply = await call(http, server, "POST", "broadcast", body)
    assert status == 400
    assert error in reply["error"]


async def test_body_that_is_not_json_is_a_400(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """A body that does not parse as JSON gets a 400 naming the problem."""
    url = f"http://127.0.0.1:{server.port}/__mockws/api/broadcast"
    async with http.post(url, data="data=1") as response:
        assert response.status == 400
        assert "the body is not JSON" in (await response.json())["error"]


async def test_send_and_close_one_connection(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """send delivers to one connection; close closes it with the chosen code and reason."""
    client = await server.connect("/cmd")
    status, reply = await call(http, server, "POST", "connections/c1/send", {"data": {"a": 1}})
    assert (status, reply) == (200, {"sent": True})
    assert await client.receive_json() == {"a": 1}
    status, reply = await call(
        http, server, "POST", "connections/c1/close", {"code": 4001, "reason": "kicked"}
    )
    assert (status, reply["closed"]) == (200, True)
    assert await client.expect_close() == (4001, "kicked")
    status, reply = await call(http, server, "POST", "connections/c1/send", {"data": 1})
    assert (status, reply["error"]) == (404, "no open connection 'c1'")


@pytest.mark.parametrize("body", [{"code": 1005}, {"code": 999}, {"code": "x"}, {"reason": 5}])
async def test_close_rejects_codes_a_server_may_not_send(
    server: RunningServer, http: aiohttp.ClientSession, body: dict[str, Any]
) -> None:
    """Close codes outside 1000-1003, 1007-1014, 3000-4999, or a bad reason, are a 400."""
    client = await server.connect("/cmd")
    status, _ = await call(http, server, "POST", "connections/c1/close", body)
    assert status == 400
    assert not client.closed


def pretend(server: RunningServer, **changes: Any) -> None:
    """Make the running server behave as if its config said ``changes``."""
    server.server.config = replace(server.server.config, **changes)


async def test_non_loopback_bind_without_token_is_404(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """Bound to a non-loopback address with no admin_token, every admin route is 404."""
    pretend(server, host="0.0.0.0")
    for path in ("api/connections", "api/rooms", "", "feed", "static/inspector.js"):
        async with http.get(f"http://127.0.0.1:{server.port}/__mockws/{path}") as response:
            assert response.status == 404, path
    async with http.post(f"http://127.0.0.1:{server.port}/__mockws/api/broadcast") as response:
        assert response.status == 404


async def test_admin_token_is_required_once_configured(
    server: RunningServer, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """With admin_token the API answers on any bind to Bearer or ?admin_token=, else 401."""
    pretend(server, host="0.0.0.0", admin_token="t0ken-xyz")
    with caplog.at_level(logging.INFO):
        status, reply = await call(http, server, "GET", "rooms")
        assert status == 401 and "Authorization: Bearer" in reply["error"]
        wrong = {"Authorization": "Bearer nope"}
        assert (await call(http, server, "GET", "rooms", headers=wrong))[0] == 401
        right = {"Authorization": "Bearer t0ken-xyz"}
        assert await call(http, server, "GET", "rooms", headers=right) == (200, {"rooms": []})
        status, _ = await call(http, server, "GET", "rooms", params={"admin_token": "t0ken-xyz"})
        assert status == 200
        async with http.get(f"http://127.0.0.1:{server.port}/__mockws/") as response:
            assert response.status == 200
    assert "t0ken-xyz" not in caplog.text
    assert "admin_token=***" in caplog.text


async def test_foreign_host_and_origin_are_refused(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """A non-loopback Host header (DNS rebinding) or another site's Origin gets a 403."""
    status, reply = await call(http, server, "GET", "rooms", headers={"Host": "evil.example"})
    assert (status, reply["error"]) == (403, "the admin API answers loopback host names only")
    origin = {"Origin": "http://evil.example"}
    status, reply = await call(http, server, "POST", "broadcast", {"data": 1}, headers=origin)
    assert status == 403 and "evil.example" in reply["error"]
    same = {"Origin": f"http://127.0.0.1:{server.port}"}
    assert (await call(http, server, "POST", "broadcast", {"data": 1}, headers=same))[0] == 200


async def test_inspector_page_and_assets_are_served(
    server: RunningServer, http: aiohttp.ClientSession
) -> None:
    """/__mockws redirects to the page; the page, its CSS and JS are served, nothing else."""
    base = f"http://127.0.0.1:{server.port}/__mockws"
    async with http.get(base) as response:
        assert response.status == 200 and str(response.url).endswith("/__mockws/")
        assert "<title>mockws inspector</title>" in await response.text()
    for name, kind in (("inspector.css", "text/css"), ("inspector.js", "text/javascript")):
        async with http.get(f"{base}/static/{name}") as response:
            assert (response.status, response.content_type) == (200, kind)
    async with http.get(f"{base}/static/..%2Fapi.py") as response:
        assert response.status == 404


def test_inspector_url_only_where_the_admin_routes_are_on() -> None:
    """The inspector URL is given for loopback binds or with a token, else None."""
    server = MockServer(Config(port=9000))
    assert inspector_url(server) == "http://127.0.0.1:9000/__mockws/"
    server.config = Config(host="::1", port=9000)
    assert inspector_url(server) == "http://[::1]:9000/__mockws/"
    server.config = Config(host="0.0.0.0", port=9000)
    assert inspector_url(server) is None
    server.config = Config(host="0.0.0.0", port=9000, admin_token="t")
    assert inspector_url(server) == "http://0.0.0.0:9000/__mockws/"


def test_loopback_names() -> None:
    """Loopback addresses and localhost names count as loopback; others do not."""
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "192.168.1.2", "example.com", "", None]))


def test_admin_token_config_key(write: WriteFile, monkeypatch: pytest.MonkeyPatch) -> None:
    """admin_token expands ${VAR}, treats empty as none, and stays out of repr."""
    monkeypatch.setenv("MOCKWS_TEST_ADMIN", "from-env")
    config = load_config(write("a.yaml", "admin_token: ${MOCKWS_TEST_ADMIN}\n"))
    assert config.admin_token == "from-env"
    assert "from-env" not in repr(config)
    optional = load_config(write("b.yaml", "admin_token: ${MOCKWS_TEST_UNSET_VAR:-}\n"))
    assert optional.admin_token is None


def test_admin_token_must_be_a_string(write: WriteFile) -> None:
    """A non-string admin_token is an error naming file, line and key."""
    path = write("c.yaml", "port: 0\nadmin_token: 1234\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).endswith(
        "c.yaml:2: admin_token: expected a string, got the number 1234"
    )


async def test_recordings_are_listed_and_downloaded_as_json_lines(
    write: WriteFile, http: aiohttp.ClientSession
) -> None:
    write("cmd.py", COMMAND_HANDLER)
    config = {
        "endpoints": [
            {**endpoint("/rec", "cmd.py"), "record": "rec/{conn}.jsonl"},
            endpoint("/plain", "cmd.py"),
        ]
    }
    async with run_server(config, base_dir=write("x", "").parent) as running:
        client = await running.connect("/rec", query={"token": "s3cret-value"})
        await command(client, op="join", room="r1")
        status, listed = await call(http, running, "GET", "recordings")
        assert status == 200
        [item] = listed["recordings"]
        assert item["endpoint"] == "/rec" and item["file"].endswith(".jsonl") and item["bytes"] > 0
        url = f"http://127.0.0.1:{running.port}/__mockws/api/recordings/{item['id']}"
        async with http.get(url) as response:
            assert response.status == 200
            assert response.content_type == "application/x-ndjson"
            assert "attachment" in response.headers["Content-Disposition"]
            text = await response.text()
        assert text.splitlines()[0].startswith('{"mockws":1')
        assert "s3cret-value" not in text
        missing = f"http://127.0.0.1:{running.port}/__mockws/api/recordings/0123456789ab"
        async with http.get(missing) as response:
            assert response.status == 404
