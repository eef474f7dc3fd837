"""Who may reach the admin API and the inspector (mockws/admin/access.py).

tests/admin/test_api.py covers the same rules end to end through the API
routes; here check_access is called directly, plus two raw-socket requests.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockws.admin.access import ADMIN_TOKEN_PARAM, admin_enabled, check_access, is_loopback
from mockws.testing import run_server

TOKEN = "t0ken-xyz"
HOST = "localhost:8765"


def request(path: str = "/__mockws/api/rooms", host: str = HOST, **headers: str) -> web.Request:
    """A GET request to an admin route with the given Host and other headers."""
    return make_mocked_request("GET", path, headers={"Host": host, **headers})


def status(response: web.Response | None) -> int | None:
    """The status of a refusal, or None when the request may proceed."""
    return None if response is None else response.status


def refusal(response: web.Response | None) -> tuple[int, str] | None:
    """The status and JSON error of a refusal, or None when the request may proceed."""
    if response is None:
        return None
    assert response.text is not None
    if response.content_type != "application/json":
        return response.status, response.text
    return response.status, json.loads(response.text)["error"]


@pytest.mark.parametrize(
    "host",
    ["LOCALHOST", "app.localhost", "127.255.255.254", "[::1]"],
)
def test_loopback_hosts(host: str) -> None:
    """localhost in any case, its subdomains, 127/8 and ::1 are loopback."""
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host",
    [
        "localhost.example.com",
        "notlocalhost",
        "127.0.0.1.nip.io",
        "127.1",
        "0x7f000001",
        "::",
        "10.0.0.1",
        "[fe80::1]",
    ],
)
def test_names_that_only_look_loopback_are_not(host: str) -> None:
    """Names that merely contain localhost or 127, and shorthand addresses, are not loopback."""
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("bind", "token", "enabled"),
    [
        ("127.0.0.1", None, True),
        ("::1", None, True),
        ("localhost", None, True),
        ("0.0.0.0", None, False),
        ("192.168.1.2", None, False),
        ("0.0.0.0", TOKEN, True),
        ("127.0.0.1", TOKEN, True),
    ],
)
def test_admin_enabled(bind: str, token: str | None, enabled: bool) -> None:
    """The admin routes exist on a loopback bind, or on any bind once a token is set."""
    assert admin_enabled(bind, token) is enabled


def test_routes_are_404_when_off_whatever_the_request_carries() -> None:
    """A non-loopback bind without a token answers 404, even to a loopback Host."""
    response = check_access(request(Authorization=f"Bearer {TOKEN}"), "0.0.0.0", None)
    assert refusal(response) == (404, "Not Found\n")
    assert status(check_access(request(), "0.0.0.0", None, require_token=False)) == 404


@pytest.mark.parametrize("host", [HOST, "127.0.0.1:8765", "[::1]:8765", "localhost"])
def test_loopback_host_passes_without_a_token(host: str) -> None:
    """With no token configured, a request naming a loopback Host may proceed."""
    assert check_access(request(host=host), "127.0.0.1", None) is None


@pytest.mark.parametrize("require_token", [True, False])
@pytest.mark.parametrize(
    "host", ["evil.example:8765", "192.168.1.2:8765", "localhost.evil.example"]
)
def test_foreign_host_is_403_without_a_token(host: str, require_token: bool) -> None:
    """A foreign Host (DNS rebinding) is refused with 403, for the page as for the API."""
    response = check_access(request(host=host), "127.0.0.1", None, require_token=require_token)
    assert refusal(response) == (403, "the admin API answers loopback host names only")


def test_missing_token_is_401_with_how_to_send_it() -> None:
    """With a token configured, a request without it gets 401 naming both ways to send it."""
    refused = refusal(check_access(request(), "0.0.0.0", TOKEN))
    assert refused is not None
    code, message = refused
    assert code == 401
    assert "Authorization: Bearer <token>" in message
    assert f"?{ADMIN_TOKEN_PARAM}=<token>" in message


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/__mockws/api/rooms", {"Authorization": "Bearer wrong"}),
        ("/__mockws/api/rooms", {"Authorization": f"Basic {TOKEN}"}),
        ("/__mockws/api/rooms", {"Authorization": TOKEN}),
        ("/__mockws/api/rooms?admin_token=wrong", {}),
        ("/__mockws/api/rooms?token=" + TOKEN, {}),
        ("/__mockws/api/rooms?admin_token=" + TOKEN[:-1], {}),
    ],
)
def test_a_wrong_or_misplaced_token_is_401(path: str, headers: dict[str, str]) -> None:
    """A wrong token, another auth scheme, or the token under another name is refused."""
    response = check_access(request(path, **headers), "0.0.0.0", TOKEN)
    assert status(response) == 401


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/__mockws/api/rooms", {"Authorization": f"Bearer {TOKEN}"}),
        ("/__mockws/api/rooms", {"Authorization": f"bearer  {TOKEN} "}),
        ("/__mockws/api/rooms", {"Authorization": f"BEARER {TOKEN}"}),
        (f"/__mockws/api/rooms?{ADMIN_TOKEN_PARAM}={TOKEN}", {}),
        (f"/__mockws/api/rooms?{ADMIN_TOKEN_PARAM}={TOKEN}", {"Authorization": "Bearer "}),
    ],
)
def test_the_token_is_accepted_as_bearer_or_query(path: str, headers: dict[str, str]) -> None:
    """The token passes as a Bearer header (any case, spaces trimmed) or ?admin_token=."""
    assert check_access(request(path, **headers), "0.0.0.0", TOKEN) is None


def test_a_wrong_bearer_is_not_rescued_by_the_query() -> None:
    """When a Bearer token is sent, it is the one checked."""
    path = f"/__mockws/api/rooms?{ADMIN_TOKEN_PARAM}={TOKEN}"
    response = check_access(request(path, Authorization="Bearer wrong"), "0.0.0.0", TOKEN)
    assert status(response) == 401


def test_with_a_token_any_host_is_served() -> None:
    """A configured token replaces the Host check: a right token passes from any Host."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert check_access(request(host="mock.example.com:8765", **headers), "0.0.0.0", TOKEN) is None


def test_the_page_needs_no_token_but_the_api_does() -> None:
    """require_token=False lets the page through without the token; the API still needs it."""
    assert check_access(request("/__mockws/"), "0.0.0.0", TOKEN, require_token=False) is None
    assert check_access(request("/__mockws/"), "0.0.0.0", TOKEN) is not None


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://localhost:9999",
        "http://127.0.0.1:8765",
        "https://localhost:8765",
        "null",
        "http://[",
    ],
)
def test_foreign_or_unreadable_origin_is_403(origin: str) -> None:
    """Another site, port or scheme, an opaque origin and a malformed one are refused."""
    response = check_access(request(Origin=origin), "127.0.0.1", None)
    assert refusal(response) == (403, f"origin {origin} may not use the admin API")


def test_foreign_origin_is_403_even_with_the_token() -> None:
    """A right token does not let another site's page use the API."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    assert status(check_access(request(**headers), "0.0.0.0", TOKEN)) == 403


@pytest.mark.parametrize("origin", ["http://localhost:8765", "http://LOCALHOST:8765"])
def test_same_origin_passes(origin: str) -> None:
    """The inspector page's own origin (the Host it was served from) may use the API."""
    assert check_access(request(Origin=origin), "127.0.0.1", None) is None


async def raw_status(port: int, target: bytes, headers: bytes) -> int:
    """Send one raw HTTP request and return the response's status code."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET " + target + b" HTTP/1.1\r\n" + headers + b"Connection: close\r\n\r\n")
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


async def test_a_non_utf8_bearer_token_is_401() -> None:
    """A token with bytes that are not UTF-8 is refused with 401, like any wrong token."""
    async with run_server({"admin_token": TOKEN}) as server:
        headers = b"Host: 127.0.0.1\r\nAuthorization: Bearer \xff\r\n"
        assert await raw_status(server.port, b"/__mockws/api/rooms", headers) == 401


async def test_a_host_with_a_bad_port_is_refused_not_a_500() -> None:
    """A Host header with a malformed port is refused with a 4xx status."""
    async with run_server({}) as server:
        code = await raw_status(server.port, b"/__mockws/api/rooms", b"Host: localhost:99999\r\n")
        assert 400 <= code < 500
