"""Defects 1, 4, 7 and 8 of issue 19: what a new user hit in config errors, check and GET /."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from mockws import (
    CompressionConfig,
    Config,
    EndpointConfig,
    EndpointLimits,
    JwtConfig,
    ServerLimits,
)
from mockws.cli import main
from mockws.config.load import config_from_mapping, load_config
from mockws.config.objects import config_as_mapping
from mockws.errors import ConfigError
from mockws.testing import run_server

from .helpers import EXAMPLE_CONFIG, WriteFile, endpoint
from .rawws import raw_connect

PY_CONFIG = """\
from mockws import Config, EndpointConfig

config = Config(
    endpoints=(EndpointConfig(pattern="/ws", handler="h.py", heartbeat={heartbeat}),),
)
"""


# Defect 1: Config / EndpointConfig objects are validated like a dict or YAML.


def test_python_config_objects_are_validated(write: WriteFile) -> None:
    """heartbeat='fast' in an EndpointConfig is a config error naming the .py file and key."""
    write("h.py", "")
    path = write("dev.py", PY_CONFIG.format(heartbeat='"fast"'))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert "dev.py:3: endpoints[0].heartbeat: expected a number of seconds, got 'fast'" in str(
        error.value
    )
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 2 and "endpoints[0].heartbeat" in result.output


def test_valid_config_objects_load_unchanged(write: WriteFile, project: Path) -> None:
    """A good Config object comes back equal, with file and folder filled in."""
    write("h.py", "")
    loaded = load_config(write("dev.py", PY_CONFIG.format(heartbeat="15")))
    assert loaded.endpoints == (EndpointConfig(pattern="/ws", handler="h.py", heartbeat=15.0),)
    assert loaded.source == project / "dev.py" and loaded.base_dir == project
    built = Config(
        endpoints=(
            EndpointConfig(
                pattern="/z",
                handler="h.py",
                compression=CompressionConfig(threshold=10),
                authenticate=JwtConfig(algorithms=("HS256",), secret="k", leeway=2),
                limits=EndpointLimits(max_connections=3, slow_client_timeout=None),
            ),
        ),
        limits=ServerLimits(max_connections=None),
        allowed_origins=("http://a.test",),
    )
    again = config_from_mapping(config_as_mapping(built), base_dir=project)
    assert again.endpoints == built.endpoints
    assert (again.limits, again.allowed_origins) == (built.limits, built.allowed_origins)
    # A loaded config (rules, routes, documents: fields that are not keys) is marked
    # validated and passes through run_server and a Python config unchanged.
    example = load_config(EXAMPLE_CONFIG)
    assert example.validated and not built.validated


async def test_run_server_validates_a_config_object(project: Path) -> None:
    """run_server(Config(...)) refuses a bad object before serving anything."""
    bad = Config(endpoints=(EndpointConfig(pattern="/ws", handler="h.py", heartbeat="fast"),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="endpoints\\[0\\].heartbeat"):
        async with run_server(bad, base_dir=project):
            pass


# Defect 4: a misspelt key is named, not the required key it was meant to be.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "endpoints:\n  - pattern: /ws\n    hanlder: h.py\n",
            "dev.yaml:3: endpoints[0].hanlder: unknown key (did you mean 'handler'?)",
        ),
        (
            "endpoints:\n  - pattern: /ws\n    handler: h.py\n    authenticate:\n"
            "      jwt:\n        secrte: x\n        algorithms: [HS256]\n",
            "dev.yaml:6: endpoints[0].authenticate.jwt.secrte: unknown key "
            "(did you mean 'secret'?)",
        ),
        (
            "endpoints:\n  - patern: /ws\n    handler: h.py\n",
            "dev.yaml:2: endpoints[0].patern: unknown key (did you mean 'pattern'?)",
        ),
    ],
)
def test_misspelt_keys_are_named_before_missing_required_ones(
    write: WriteFile, text: str, expected: str
) -> None:
    """`hanlder:`, jwt `secrte:`, `patern:`: the error is the typo's, with a did-you-mean."""
    with pytest.raises(ConfigError) as error:
        load_config(write("dev.yaml", text))
    assert expected in str(error.value)


# Defect 7: the effective origins are visible, and a refusal says how to allow it.


async def test_refused_origin_log_says_how_to_allow_it(
    project: Path, write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """The warning names the origin to add, and that a list replaces the loopback default."""
    write("h.py", "")
    caplog.set_level(logging.WARNING, logger="mockws.server")
    async with run_server({"endpoints": [endpoint("/o", "h.py")]}, base_dir=project) as server:
        client = await raw_connect(server.port, "/o", {"Origin": "http://192.168.1.5:5173"})
        assert client.status == 403
        await client.close()
    assert "add 'http://192.168.1.5:5173' to allowed_origins" in caplog.text
    assert "the default allows loopback origins only" in caplog.text
    caplog.clear()
    config = {"allowed_origins": ["http://app.test"], "endpoints": [endpoint("/o", "h.py")]}
    async with run_server(config, base_dir=project) as server:
        client = await raw_connect(server.port, "/o", {"Origin": "http://localhost:5173"})
        assert client.status == 403
        await client.close()
    assert "add 'http://localhost:5173' to allowed_origins (it replaces the loopback default" in (
        caplog.text
    )


def test_check_prints_the_effective_origins(write: WriteFile) -> None:
    """Default, a list (which replaces the default), and every origin."""
    write("h.py", "")
    cases = {
        "": "origins: loopback only",
        "allowed_origins: [http://localhost:5173]\n": "origins: http://localhost:5173 "
        "(allowed_origins; replaces the loopback default)",
        "allowed_origins: ['*']\n": "origins: every origin",
    }
    for top, expected in cases.items():
        path = write("dev.yaml", top + "endpoints:\n  - pattern: /a\n    handler: h.py\n")
        result = CliRunner().invoke(main, ["check", "--config", str(path)])
        assert result.exit_code == 0 and expected in result.output, result.output


# Defect 8: check's wording and path, an empty config, and GET /.


def test_check_does_not_claim_to_listen_and_prints_the_path_as_given(
    write: WriteFile, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first line is relative to the working folder, as docs/cli.md shows; no 'listening'."""
    write("h.py", "")
    write("dev.yaml", "endpoints:\n  - pattern: /a\n    handler: h.py\n")
    monkeypatch.chdir(project)
    result = CliRunner().invoke(main, ["check", "--config", "dev.yaml"])
    first = result.output.splitlines()[0]
    assert first == "dev.yaml: 1 endpoint(s), serve would bind 127.0.0.1:8765 (ws://)"
    assert "listening" not in result.output


def test_an_empty_config_warns(write: WriteFile) -> None:
    """No endpoints: check still passes, with a warning on stderr that says what to add."""
    path = write("dev.yaml", "port: 9000\n")
    result = CliRunner().invoke(main, ["check", "--config", str(path)])
    assert result.exit_code == 0
    assert "has no endpoints: every WebSocket gets 404 (add some under 'endpoints:')" in (
        result.output
    )


async def test_root_page_points_to_the_endpoints_and_the_inspector(
    project: Path, write: WriteFile
) -> None:
    """GET / is a page with each endpoint's URL and the inspector's link; other paths still 404."""
    write("h.py", "")
    config = {"prefix": "/api", "endpoints": [endpoint("/ws/{room}", "h.py")]}
    async with run_server(config, base_dir=project) as server, aiohttp.ClientSession() as http:
        for path in ("/", "/api"):
            async with http.get(server.http_url(path)) as reply:
                page = await reply.text()
                assert reply.status == 200 and reply.content_type == "text/html"
            assert f"ws://127.0.0.1:{server.port}/api/ws/{{room}}" in page
            assert 'href="/__mockws/"' in page and "h.py" in page
        async with http.get(server.http_url("/nope")) as reply:
            assert reply.status == 404 and "/api/ws/{room}" in await reply.text()
