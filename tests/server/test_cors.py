"""CORS answers for the HTTP routes (mockws/server/cors.py)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockws.server.cors import allow_headers, is_preflight, preflight_response

APP = "http://localhost:5173"


def test_a_preflight_is_options_with_origin_and_the_asked_method() -> None:
    """Only OPTIONS carrying Origin and Access-Control-Request-Method is a preflight."""
    asked = {"Origin": APP, "Access-Control-Request-Method": "PUT"}
    assert is_preflight(make_mocked_request("OPTIONS", "/a", headers=asked))
    assert not is_preflight(make_mocked_request("OPTIONS", "/a", headers={"Origin": APP}))
    assert not is_preflight(make_mocked_request("PUT", "/a", headers=asked))


def test_an_allowed_preflight_grants_what_it_asks() -> None:
    """204 with the origin echoed, the asked method and headers, credentials and a max age."""
    request = make_mocked_request(
        "OPTIONS",
        "/a",
        headers={
            "Origin": APP,
            "Access-Control-Request-Method": "delete",
            "Access-Control-Request-Headers": "authorization, x-trace",
        },
    )
    response = preflight_response(request, allowed=True)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Allow-Methods"] == "DELETE"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization, x-trace"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert "Origin" in response.headers["Vary"]


def test_a_refused_preflight_is_403_without_cors_headers() -> None:
    """An origin that is not allowed gets 403 and nothing that lets the browser go on."""
    request = make_mocked_request(
        "OPTIONS",
        "/a",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
    )
    response = preflight_response(request, allowed=False)
    assert response.status == 403
    assert not any(name.startswith("Access-Control-") for name in response.headers)


def test_allow_headers_exposes_the_route_headers() -> None:
    """A response to an allowed origin names it and exposes the listed headers once each."""
    response = web.Response()
    allow_headers(APP, response, ["X-Mock", "X-Mock", "X-Seq"])
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert response.headers["Access-Control-Expose-Headers"] == "X-Mock, X-Seq"
    assert response.headers["Vary"] == "Origin"
