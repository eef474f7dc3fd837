"""The top-level ``http:`` list: what loads, and every mistake named by file, line and key."""

from __future__ import annotations

import os
import textwrap

import pytest

from mockws.config.durations import DurationRange
from mockws.config.http import file_placeholders, split_handler
from mockws.config.load import load_config
from mockws.config.model import HttpRouteConfig, SendToUser
from mockws.config.templates import compile_value
from mockws.config.yaml_source import SourceMap
from mockws.errors import ConfigError

from ..helpers import WriteFile

JWT_ENDPOINT = """
endpoints:
  - pattern: /ws/chat
    handler: h.py
    authenticate:
      jwt: {secret: s, algorithms: [HS256]}
"""


def load(write: WriteFile, body: str) -> tuple[HttpRouteConfig, ...]:
    return load_config(write("dev.yaml", JWT_ENDPOINT + textwrap.dedent(body))).http


def config_error(write: WriteFile, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(write, body)
    return str(caught.value)


def test_every_route_key_is_parsed(write: WriteFile, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each key lands in its field; ${VAR} expands inside JSON values and header values."""
    monkeypatch.setenv("MOCK_NAME", "alice")
    routes = load(
        write,
        """
        http:
          - route: get /api/me
            json: {id: 1, name: "${MOCK_NAME}", tags: ["${MOCK_NAME}"]}
            status: 201
            headers: {X-Mock: 1, X-Who: "${MOCK_NAME}"}
            delay: [100ms, 200ms]
            broadcast: {type: seen}
            rooms: [lobby]
            send_to_user: {user: bob, data: {type: note}}
            bearer: /ws/chat
          - route: POST /files/{name}
            file: fixtures/{name}
          - route: ANY /h
            handler: handlers/http.py:login
          - route: DELETE /t
            text: gone
        """,
    )
    me, files, handler, text = routes
    source = SourceMap()
    assert me == HttpRouteConfig(
        method="GET",
        pattern="/api/me",
        kind="json",
        content=compile_value({"id": 1, "name": "alice", "tags": ["alice"]}, "", source),
        status=201,
        headers=(
            ("X-Mock", compile_value("1", "", source)),
            ("X-Who", compile_value("alice", "", source)),
        ),
        delay=DurationRange(0.1, 0.2),
        broadcast=compile_value({"type": "seen"}, "", source),
        rooms=compile_value(["lobby"], "", source),
        send_to_user=SendToUser(
            user=compile_value("bob", "", source), data=compile_value({"type": "note"}, "", source)
        ),
        bearer="/ws/chat",
    )
    assert me.route == "GET /api/me"
    assert (files.kind, files.content) == ("file", "fixtures/{name}")
    assert (handler.method, handler.kind, handler.content) == (
        "ANY",
        "handler",
        "handlers/http.py:login",
    )
    assert (text.kind, text.content.value, text.status) == ("text", "gone", None)


def test_templates_compile_at_load_and_their_errors_name_the_key(write: WriteFile) -> None:
    """A template in a route value compiles at load; a syntax error is a config error."""
    (route,) = load(write, 'http:\n  - route: GET /a\n    json: {n: "{{ query.n }}"}\n')
    assert not route.content.constant and route.content.names == {"query"}
    message = config_error(write, 'http:\n  - route: GET /a\n    text: "{{ body. }}"\n')
    assert "dev.yaml:8: http[0].text: template syntax error" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("http: {route: GET /}\n", "dev.yaml:6: http: expected a list of routes, got a mapping"),
        ("http:\n  - json: {}\n", "dev.yaml:7: http[0]: missing required key 'route'"),
        ("http:\n  - route: /api\n", "dev.yaml:7: http[0].route: expected 'METHOD /path'"),
        ("http:\n  - route: FETCH /api\n", "dev.yaml:7: http[0].route: unknown method 'FETCH'"),
        ("http:\n  - route: GET api\n", "dev.yaml:7: http[0].route: pattern 'api' must start"),
        (
            "http:\n  - route: GET /a\n    json: 1\n    text: x\n",
            "dev.yaml:9: http[0].text: give one of json, text, file, handler, not json too",
        ),
        (
            "http:\n  - route: GET /a\n    jsn: {}\n",
            "dev.yaml:8: http[0].jsn: unknown key (did you mean 'json'?)",
        ),
        (
            "http:\n  - route: GET /a\n    status: 700\n",
            "dev.yaml:8: http[0].status: expected a number between 100 and 599, got 700",
        ),
        (
            "http:\n  - route: GET /a\n    delay: 5 sec\n",
            "dev.yaml:8: http[0].delay: expected a duration like 250ms",
        ),
        (
            "http:\n  - route: GET /a\n    headers: {Bad Name: x}\n",
            "http[0].headers.Bad Name: 'Bad Name' is not a valid header name",
        ),
        (
            "http:\n  - route: GET /a\n    headers: {Content-Length: 3}\n",
            "http[0].headers.Content-Length: Content-Length is set by mockws",
        ),
        (
            "http:\n  - route: GET /a\n    handler: handlers/http.py\n",
            "dev.yaml:8: http[0].handler: expected 'file.py:function'",
        ),
        (
            "http:\n  - route: GET /a/{id}\n    file: data/{name}.json\n",
            "dev.yaml:8: http[0].file: {name} is not a parameter of the route "
            "(its parameters: {id})",
        ),
        (
            "http:\n  - route: GET /a\n    file: ../outside.txt\n",
            "dev.yaml:8: http[0].file: '../outside.txt' is outside the config folder",
        ),
        (
            "http:\n  - route: GET /a\n    file: /etc/passwd\n",
            "dev.yaml:8: http[0].file: '/etc/passwd' is outside the config folder",
        ),
        (
            "http:\n  - route: GET /a\n    rooms: [x]\n",
            "dev.yaml:8: http[0].rooms: rooms limit a 'broadcast'; this route has none",
        ),
        (
            "http:\n  - route: GET /a\n    send_to_user: {user: bob}\n",
            "dev.yaml:8: http[0].send_to_user: missing required key 'data'",
        ),
        (
            "http:\n  - route: GET /a\n    bearer: /ws/other\n",
            "dev.yaml:8: http[0].bearer: '/ws/other' is not an endpoint with 'authenticate: "
            "{jwt: ...}' (JWT endpoints: /ws/chat)",
        ),
        (
            "http:\n  - route: GET /ws/chat\n",
            "dev.yaml:7: http[0].route: GET /ws/chat is on the pattern of the WebSocket "
            "endpoint /ws/chat",
        ),
        (
            "http:\n  - route: GET /a/{x}\n  - route: GET /a/{y}\n",
            "dev.yaml:8: http[1].route: GET /a/{y} can never match: GET /a/{x} comes first",
        ),
        (
            "http:\n  - route: ANY /a\n  - route: POST /a\n",
            "dev.yaml:8: http[1].route: POST /a can never match: ANY /a comes first",
        ),
        (
            "http:\n  - route: GET /a\n  - route: HEAD /a\n",
            "dev.yaml:8: http[1].route: HEAD /a can never match: GET /a comes first",
        ),
    ],
)
def test_route_errors_name_file_line_and_key(write: WriteFile, body: str, expected: str) -> None:
    """Every invalid route is reported as file:line: key: message."""
    message = config_error(write, body)
    assert expected in message, message
    assert f"{os.sep}dev.yaml:" in message


def test_same_path_with_other_methods_is_fine(write: WriteFile) -> None:
    """GET and POST on one pattern are two routes; ANY after GET takes the other methods."""
    routes = load(write, "http:\n  - route: GET /a\n  - route: POST /a\n  - route: ANY /a\n")
    assert [route.route for route in routes] == ["GET /a", "POST /a", "ANY /a"]


def test_a_symlink_out_of_the_folder_is_refused_at_load(write: WriteFile) -> None:
    """A file: path through a link that leaves the config folder is a config error."""
    outside = write("x", "").parent.parent / "outside-mockws-test"
    outside.mkdir(exist_ok=True)
    (write("x", "").parent / "linked").symlink_to(outside)
    message = config_error(write, "http:\n  - route: GET /a\n    file: linked/secret.txt\n")
    assert "http[0].file: 'linked/secret.txt' is outside the config folder" in message


def test_helpers() -> None:
    """split_handler splits at the last colon; file_placeholders lists {names} in order."""
    assert split_handler("handlers/http.py:login") == ("handlers/http.py", "login")
    assert split_handler("handlers.http:me") == ("handlers.http", "me")
    with pytest.raises(ValueError, match="not a function name"):
        split_handler("handlers/http.py:log-in")
    assert file_placeholders("data/{kind}/{name}.json") == ["kind", "name"]
