"""The masking access log and log setup (mockws/observe/logging.py).

TextFormatter, JsonFormatter and wants_colour are tested in
tests/observe/test_eventlog.py.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mockws.config import Config
from mockws.observe.logging import (
    JsonFormatter,
    MaskingAccessLogger,
    TextFormatter,
    access_logger_for,
    configure_logging,
)
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, eventually

ACCESS = "aiohttp.access"
LINE = re.compile(r'^(?P<remote>\S+) "(?P<method>\S+) (?P<path>\S+)" (?P<status>\d+) \d+\.\dms$')


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The access log messages captured so far."""
    return [record.getMessage() for record in caplog.records if record.name == ACCESS]


async def test_an_http_request_is_logged_with_its_token_masked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A real request with ?token= is logged as remote, method, masked path, status, time."""
    caplog.set_level(logging.INFO, logger=ACCESS)
    async with run_server(Config()) as server:
        async with aiohttp.ClientSession() as http:
            url = server.http_url("/nothing?token=secret-value&room=lobby")
            async with http.get(url) as response:
                assert response.status == 404
        await eventually(lambda: access_lines(caplog))
    [line] = access_lines(caplog)
    found = LINE.match(line)
    assert found is not None, line
    assert found["remote"] == "127.0.0.1"
    assert (found["method"], found["status"]) == ("GET", "404")
    assert found["path"] == "/nothing?token=***&room=lobby"
    assert "secret-value" not in caplog.text


async def test_a_websocket_upgrade_is_logged_with_its_secrets_masked(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """The access line of a WebSocket connection masks password and api_key, keeps the rest."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = {"endpoints": [endpoint("/echo", "echo.py")]}
    caplog.set_level(logging.INFO, logger=ACCESS)
    async with run_server(config, base_dir=write("x", "").parent) as server:
        query = {"password": "hunter2", "API_KEY": "k-123", "room": "r1"}
        client = await server.connect("/echo", query=query)
        await client.send("hi")
        assert await client.receive() == "hi"
        await client.close()
        await eventually(lambda: access_lines(caplog))
    [line] = access_lines(caplog)
    assert '"GET /echo?password=***&API_KEY=***&room=r1" 101 ' in line
    assert "hunter2" not in caplog.text and "k-123" not in caplog.text


@pytest.fixture
def access_logger() -> logging.Logger:
    """A logger of its own, at INFO, for access loggers built in the test."""
    logger = logging.getLogger("tests.observe.access")
    logger.setLevel(logging.INFO)
    return logger


def logged(
    cls: type[MaskingAccessLogger],
    logger: logging.Logger,
    path_qs: str,
    caplog: pytest.LogCaptureFixture,
) -> list[str]:
    """Log one 204 request for ``path_qs`` through ``cls``; return the captured lines."""
    caplog.clear()
    request = make_mocked_request("GET", path_qs)
    cls(logger, "").log(request, web.Response(status=204), 0.01234)
    return [record.getMessage() for record in caplog.records if record.name == logger.name]


def test_the_line_shows_status_and_milliseconds(
    access_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """The logged line ends with the status and the time in milliseconds."""
    [line] = logged(MaskingAccessLogger, access_logger, "/p?jwt=x&q=1", caplog)
    assert line.endswith('"GET /p?jwt=***&q=1" 204 12.3ms')


def test_access_logger_for_adds_names_read_at_every_call(
    access_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """Names added to the collection after the class is made are masked from then on."""
    names: set[str] = set()
    cls = access_logger_for(names)
    assert issubclass(cls, MaskingAccessLogger)
    [before] = logged(cls, access_logger, "/ws?ticket=t1&token=t2", caplog)
    assert "/ws?ticket=t1&token=***" in before
    names.add("ticket")
    [after] = logged(cls, access_logger, "/ws?ticket=t1&token=t2", caplog)
    assert "/ws?ticket=***&token=***" in after


def test_access_logger_for_does_not_change_the_base_class(
    access_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """Each call makes its own class; the plain MaskingAccessLogger masks only the defaults."""
    access_logger_for({"ticket"})
    [line] = logged(MaskingAccessLogger, access_logger, "/ws?ticket=t1", caplog)
    assert "/ws?ticket=t1" in line


def test_nothing_is_logged_below_info(
    access_logger: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    """With the access logger at WARNING, a request writes no line."""
    access_logger.setLevel(logging.WARNING)
    assert logged(MaskingAccessLogger, access_logger, "/p?token=x", caplog) == []


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger with no handlers, as in a fresh process; restored after the block."""
    root = logging.getLogger()
    watchfiles = logging.getLogger("watchfiles")
    saved = root.handlers, root.level, watchfiles.level
    # pytest adds its capture handlers when the test starts: clear them here, not in a fixture.
    root.handlers = []
    try:
        yield root
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        watchfiles.setLevel(saved[2])


def test_configure_logging_json() -> None:
    """fmt='json' installs one stderr handler with the JSON formatter at the given level."""
    with bare_root() as root:
        configure_logging("debug", "json")
        [handler] = root.handlers
        level = root.level
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr
    assert isinstance(handler.formatter, JsonFormatter)
    assert level == logging.DEBUG


def test_configure_logging_text_colour_choices() -> None:
    """fmt='text' uses TextFormatter; colour=None colours only a terminal's stderr."""
    with bare_root() as root:
        configure_logging("warning", "text", colour=True)
        [coloured] = root.handlers
        level = root.level
    with bare_root() as root:
        configure_logging("info", "text")
        [chosen] = root.handlers
    assert isinstance(coloured.formatter, TextFormatter) and coloured.formatter.colour is True
    assert level == logging.WARNING
    assert isinstance(chosen.formatter, TextFormatter)
    assert chosen.formatter.colour is False  # pytest's stderr is not a terminal


def test_configure_logging_quiets_watchfiles() -> None:
    """watchfiles' own change lines are hidden below WARNING, even at level debug."""
    with bare_root():
        configure_logging("debug")
        level = logging.getLogger("watchfiles").level
    assert level == logging.WARNING


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with stderr piped."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=True
    )


def test_configured_records_go_to_stderr_as_json_lines() -> None:
    """In a fresh process, records at or above the level reach stderr as JSON, one per line."""
    result = run_python(
        "import logging\n"
        "from mockws.observe.logging import configure_logging\n"
        "configure_logging('info', 'json')\n"
        "logging.getLogger('mockws.test').debug('hidden')\n"
        "logging.getLogger('mockws.test').warning('shown %s', 1)\n"
        "logging.getLogger('watchfiles.main').info('3 changes detected')\n"
    )
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    record = json.loads(line)
    assert (record["level"], record["logger"], record["message"]) == (
        "warning",
        "mockws.test",
        "shown 1",
    )


def test_configured_text_lines_to_a_pipe_are_plain() -> None:
    """Text lines written to a pipe carry no colour codes."""
    result = run_python(
        "import logging\n"
        "from mockws.observe.logging import configure_logging\n"
        "configure_logging()\n"
        "logging.getLogger('mockws.test').info('hello')\n"
    )
    assert result.stderr.rstrip("\n").endswith("INFO    mockws.test: hello")
    assert "\x1b[" not in result.stderr
