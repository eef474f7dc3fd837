"""The mockws_server fixture, here and in a frontend team's project (mockws/pytest_plugin.py)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mockws.pytest_plugin import configured_path
from mockws.testing import RunningServer

from .helpers import EXAMPLE_CONFIG

pytest_plugins = ["pytester"]

CHAT_HANDLER = """
async def on_connect(conn):
    await conn.send({"type": "welcome", "id": conn.id})

async def on_message(conn, data):
    if data.get("type") == "join":
        conn.join(data["room"])
        await conn.send({"type": "joined", "room": data["room"]})
    elif data.get("type") == "chat":
        await conn.broadcast(data, rooms=[data["room"]])
"""

TEAM_TESTS = """
import aiohttp


async def test_welcome_then_chat(mockws_server):
    alice = await mockws_server.connect("/ws/chat")
    bob = await mockws_server.connect("/ws/chat")
    assert (await alice.receive_json())["type"] == "welcome"
    assert (await bob.receive_json())["type"] == "welcome"
    for client in (alice, bob):
        await client.send({"type": "join", "room": "lobby"})
        assert await client.receive_json() == {"type": "joined", "room": "lobby"}
    await alice.send({"type": "chat", "room": "lobby", "text": "hi"})
    assert (await bob.receive_json())["text"] == "hi"
    await alice.expect_no_message(within=0.1)


async def test_push_from_the_admin_api(mockws_server):
    client = await mockws_server.connect("/ws/chat")
    await client.receive_json()
    async with aiohttp.ClientSession() as http:
        url = mockws_server.http_url("/__mockws/api/broadcast")
        async with http.post(url, json={"data": {"type": "news"}}) as response:
            assert (await response.json())["reached"] == 1
    assert await client.receive_json() == {"type": "news"}
"""


@pytest.fixture
def mockws_config() -> Path:
    return EXAMPLE_CONFIG


async def test_fixture_serves_the_overridden_config(mockws_server: RunningServer) -> None:
    """An overridden mockws_config fixture decides what mockws_server serves."""
    async with await mockws_server.connect("/ws/chat") as client:
        assert (await client.receive_json())["type"] == "welcome"
        await client.expect_no_message(within=0.05)
    assert mockws_server.port != 0
    assert mockws_server.server.endpoints[0].pattern == "/ws/chat"


def write_team_project(pytester: pytest.Pytester, ini: str) -> None:
    """A frontend repository with its mock under mock/ and the mock's tests under tests/."""
    pytester.makefile(".ini", pytest=textwrap.dedent(ini).lstrip())
    mock = pytester.mkdir("mock")
    (mock / "mockws.yaml").write_text(
        "endpoints:\n  - pattern: /ws/chat\n    handler: mocks/chat.py\n"
    )
    (mock / "mocks").mkdir()
    (mock / "mocks" / "chat.py").write_text(textwrap.dedent(CHAT_HANDLER))
    pytester.mkdir("tests")
    (pytester.path / "tests" / "test_chat_mock.py").write_text(TEAM_TESTS)


def test_team_project_uses_the_ini_option(pytester: pytest.Pytester) -> None:
    """A project naming its config in `mockws_config` gets it served to every test."""
    write_team_project(
        pytester,
        """
        [pytest]
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        mockws_config = mock/mockws.yaml
        """,
    )
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_config_comes_from_the_ini_option_or_the_rootdir(tmp_path: Path) -> None:
    """The ini option wins; else a mockws.yaml in the rootdir; else an error saying what to set."""
    assert configured_path(tmp_path, "mock/dev.yaml") == tmp_path / "mock" / "dev.yaml"
    with pytest.raises(
        LookupError, match=r"no mockws.yaml / mockws.yml / mockws.py in .*set 'mockws_config = "
    ):
        configured_path(tmp_path, "")
    (tmp_path / "mockws.py").write_text("config = {}\n")
    assert configured_path(tmp_path, "") == tmp_path / "mockws.py"


COUNTING_HANDLER = """
CONNECTS = []

async def on_connect(conn):
    CONNECTS.append(conn.id)
    await conn.send({"count": len(CONNECTS)})
"""

COUNTING_TESTS = """
import pytest


async def test_first(mockws_server):
    client = await mockws_server.connect("/ws/count")
    assert await client.receive_json() == {"count": 1}


async def test_second(mockws_server):
    client = await mockws_server.connect("/ws/count")
    assert await client.receive_json() == {"count": 1}


@pytest.mark.mockws(fresh_modules=True)
async def test_marked_fresh(mockws_server):
    client = await mockws_server.connect("/ws/count")
    assert await client.receive_json() == {"count": 1}
"""


def write_counting_project(pytester: pytest.Pytester, extra_ini: str) -> None:
    pytester.makefile(
        ".ini",
        pytest="[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
        + extra_ini,
    )
    (pytester.path / "mockws.yaml").write_text(
        "endpoints:\n  - pattern: /ws/count\n    handler: counting.py\n"
    )
    (pytester.path / "counting.py").write_text(textwrap.dedent(COUNTING_HANDLER))
    (pytester.path / "test_counting.py").write_text(COUNTING_TESTS)


@pytest.mark.parametrize(
    ("ini", "outcomes"),
    [("", {"passed": 2, "failed": 1}), ("mockws_fresh_modules = true\n", {"passed": 3})],
)
def test_fresh_modules_option_resets_handler_state_between_tests(
    pytester: pytest.Pytester, ini: str, outcomes: dict[str, int]
) -> None:
    """Module state leaks into the next test unless mockws_fresh_modules (or the marker) is set."""
    write_counting_project(pytester, ini)
    result = pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(**outcomes)
    if "failed" in outcomes:
        result.stdout.fnmatch_lines(["*test_second*"])
