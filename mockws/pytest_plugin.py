"""pytest plugin: a ``mockws_server`` fixture serving your mock for each test.

Installed with mockws and loaded by pytest on its own (entry point
``pytest11``). The fixture needs pytest-asyncio::

    async def test_chat(mockws_server):
        client = await mockws_server.connect("/ws/chat")
        assert (await client.receive_json())["type"] == "welcome"

It serves, in this order of preference: what your ``mockws_config`` fixture
returns (a path, a ``mockws.Config`` or a dict), the ``mockws_config`` ini
option (a path relative to the rootdir), or ``mockws.yaml`` / ``mockws.yml``
/ ``mockws.py`` in the rootdir.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from .config.model import Config
    from .testing import RunningServer

__all__ = ["configured_path", "mockws_config", "mockws_server", "pytest_configure"]

INI_OPTION = "mockws_config"
FRESH_OPTION = "mockws_fresh_modules"
TLS_OPTION = "mockws_tls"

_Function = TypeVar("_Function", bound=Callable[..., Any])


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``mockws`` marker."""
    config.addinivalue_line(
        "markers", "mockws(fresh_modules=False, tls=False): options of the mockws_server fixture"
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``mockws_config`` ini option."""
    parser.addini(
        INI_OPTION,
        "config file the mockws_server fixture serves, relative to the rootdir "
        "(default: mockws.yaml, mockws.yml or mockws.py there)",
        default="",
    )
    parser.addini(
        FRESH_OPTION,
        "run the handler modules anew for every test, so module-level state "
        "(dicts, counters) from one test never reaches the next (default: false)",
        type="bool",
        default=False,
    )
    parser.addini(
        TLS_OPTION,
        "serve wss:// and https:// with the local CA's localhost certificate (default: false)",
        type="bool",
        default=False,
    )


def configured_path(rootpath: Path, ini_value: str) -> Path:
    """Return the config to serve: ``ini_value`` under ``rootpath``, else a default config there.

    Raises:
        LookupError: Neither is there; the message says what to set.
    """
    from .config.load import DEFAULT_CONFIG_NAMES, find_default_config

    if ini_value:
        return rootpath / ini_value
    found = find_default_config(rootpath)
    if found is None:
        raise LookupError(
            f"mockws_server: no {' / '.join(DEFAULT_CONFIG_NAMES)} in {rootpath}; set "
            f"'{INI_OPTION} = path/to/mockws.yaml' in your pytest config or override "
            "the mockws_config fixture"
        )
    return found


@pytest.fixture
def mockws_config(request: pytest.FixtureRequest) -> Config | Mapping[str, Any] | Path:
    """The config ``mockws_server`` serves; override it to serve another one."""
    try:
        return configured_path(request.config.rootpath, str(request.config.getini(INI_OPTION)))
    except LookupError as exc:
        pytest.fail(str(exc), pytrace=False)


def _async_fixture(function: _Function) -> _Function:
    # pytest-asyncio's strict mode only runs async fixtures made with its own
    # decorator; without it, pytest itself says the fixture needs a plugin.
    try:
        import pytest_asyncio
    except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
        return cast(_Function, pytest.fixture(function))
    return cast(_Function, pytest_asyncio.fixture(function))


@_async_fixture
async def mockws_server(
    mockws_config: Config | Mapping[str, Any] | Path, request: pytest.FixtureRequest
) -> AsyncIterator[RunningServer]:
    """A running mock server on a free port, stopped after the test.

    Connect with ``await mockws_server.connect("/path")``; every client it
    opened is closed at the end. Each test gets a new server (connections,
    rooms and the message journal start empty); with the ini option
    ``mockws_fresh_modules = true`` (or ``@pytest.mark.mockws(fresh_modules=True)``)
    the handler modules also run anew, so their module-level state is reset too.
    ``mockws_tls = true`` (or ``tls=True`` in the marker) serves ``wss://``.
    """
    from .testing import run_server

    options = {
        "fresh_modules": bool(request.config.getini(FRESH_OPTION)),
        "tls": bool(request.config.getini(TLS_OPTION)),
    }
    marker = request.node.get_closest_marker("mockws")
    if marker is not None:
        unknown = set(marker.kwargs) - set(options)
        if unknown or marker.args:
            pytest.fail(
                f"@pytest.mark.mockws takes fresh_modules= and tls=, got {marker}", pytrace=False
            )
        options.update({key: bool(value) for key, value in marker.kwargs.items()})
    async with run_server(
        mockws_config, fresh_modules=options["fresh_modules"], tls=options["tls"]
    ) as server:
        yield server
