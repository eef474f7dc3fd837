"""Matching requests to HTTP routes (mockws/server/http_routes.py); no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockws.config.load import config_from_mapping
from mockws.errors import ConfigError
from mockws.server.http_routes import HttpRoutes, RouteFound, load_http_routes

from ..helpers import WriteFile


def table(
    routes: list[dict[str, object]], prefix: str = "", base: Path | None = None
) -> HttpRoutes:
    config = config_from_mapping({"prefix": prefix, "http": routes}, base_dir=base or Path.cwd())
    return load_http_routes(config)


def test_first_match_wins_in_config_order() -> None:
    """A literal route listed first wins over a placeholder route; the order decides."""
    routes = table(
        [
            {"route": "GET /users/me", "text": "me"},
            {"route": "GET /users/{id}", "text": "by id"},
            {"route": "ANY /users/{id}", "text": "any"},
        ]
    )
    found = routes.match("GET", "/users/me")
    assert isinstance(found, RouteFound) and found.route.route == "GET /users/me"
    found = routes.match("GET", "/users/7")
    assert isinstance(found, RouteFound) and found.params == {"id": "7"}
    found = routes.match("DELETE", "/users/7")
    assert isinstance(found, RouteFound) and found.route.route == "ANY /users/{id}"


def test_get_answers_head_and_the_wrong_method_lists_allow() -> None:
    """HEAD takes a GET route; another method gets the allowed methods; no path gets None."""
    routes = table([{"route": "GET /a"}, {"route": "PUT /a"}])
    found = routes.match("HEAD", "/a")
    assert isinstance(found, RouteFound) and found.route.method == "GET"
    assert routes.match("POST", "/a") == ("GET", "HEAD", "PUT")
    assert routes.match("GET", "/b") is None


def test_routes_match_under_the_prefix_only() -> None:
    """With a prefix, paths outside it match nothing and "/" is the prefix itself."""
    routes = table([{"route": "GET /", "text": "root"}, {"route": "GET /x"}], prefix="/api/")
    assert isinstance(routes.match("GET", "/api"), RouteFound)
    assert isinstance(routes.match("GET", "/api/x"), RouteFound)
    assert routes.match("GET", "/x") is None
    assert routes.shown() == ["GET /api", "GET /api/x"]


def test_closest_ranks_routes_by_likeness() -> None:
    """closest() puts the most similar route first and lists at most five."""
    routes = table([{"route": f"GET /r{n}"} for n in range(8)] + [{"route": "GET /api/users"}])
    closest = routes.closest("GET", "/api/user")
    assert closest[0] == "GET /api/users" and len(closest) == 5


def test_describe_says_what_a_route_answers() -> None:
    """describe() names the body kind, status, delay and side effects."""
    (route,) = table(
        [
            {
                "route": "POST /o",
                "json": {},
                "status": 201,
                "delay": [0.1, 0.2],
                "broadcast": {},
                "rooms": ["a"],
            }
        ]
    )
    assert route.describe() == "json, 201, after 0.1-0.2s, broadcast to a"


def test_static_bodies_are_encoded_once_and_templates_are_not(write: WriteFile) -> None:
    """A route without templates has its body ready; a templated one lists its names."""
    static, templated = table(
        [{"route": "GET /s", "json": {"a": 1}}, {"route": "GET /t", "text": "{{ query.x }}"}]
    )
    assert (static.static_body, static.names) == (b'{"a":1}', frozenset())
    assert (templated.static_body, templated.names) == (None, {"query"})


def test_a_missing_handler_module_is_a_config_error_naming_the_key(write: WriteFile) -> None:
    """A route handler that does not import names the route's key."""
    base = write("x", "").parent
    with pytest.raises(ConfigError, match=r"http\[0\]\.handler: cannot load 'nope.py'"):
        table([{"route": "GET /a", "handler": "nope.py:f"}], base=base)
