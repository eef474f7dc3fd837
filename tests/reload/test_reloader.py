"""Hot reload over real sockets: edits to handlers, helpers and the config apply in place."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

import mockws.cli.commands
from mockws.config import Config
from mockws.testing import MockClient, RunningServer, run_server

from ..helpers import WriteFile, endpoint

ECHO_VERSION = """
VERSION = {version!r}
async def on_message(conn, data):
    await conn.send({{"version": VERSION, "data": data}})
"""


def base(write: WriteFile) -> Path:
    return write("x.txt", "").parent


async def ask(client: MockClient, data: Any = "hi") -> Any:
    await client.send(data)
    return await client.receive()


async def edit(server: RunningServer, write: WriteFile, path: str, text: str) -> Any:
    """Write ``text`` to ``path`` and return the report of the reload it causes."""
    async with server.reloaded() as done:
        write(path, text)
    return done.report


async def test_next_message_after_edit_runs_new_code_on_same_connection(
    write: WriteFile,
) -> None:
    """The first message after a save is answered by the new code, on the open connection."""
    write("echo.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/e", "echo.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/e")
        assert await ask(client) == {"version": 1, "data": "hi"}
        report = await edit(server, write, "echo.py", ECHO_VERSION.format(version=2))
        assert report.ok and len(report.changed) == 1 and report.changed[0].endswith("echo.py")
        assert await ask(client) == {"version": 2, "data": "hi"}
        assert not client.closed and len(server.hub.connections) == 1


async def test_state_rooms_auth_data_and_user_id_survive_a_reload(write: WriteFile) -> None:
    """id, rooms, state, auth_data and user_id of open connections are kept across a reload."""
    old = """
    async def on_connect(conn):
        conn.join("lobby")
        conn.state["count"] = 41
        conn.auth_data = {"sub": "ann", "role": "admin"}
        conn.user_id = "ann"
    async def on_message(conn, data):
        await conn.send("old")
    """
    new = """
    async def on_message(conn, data):
        conn.state["count"] += 1
        await conn.send({"id": conn.id, "rooms": sorted(conn.rooms), "state": conn.state,
                         "auth": conn.auth_data, "user": conn.user_id,
                         "lobby": sorted(c.id for c in conn.hub.rooms["lobby"])})
    """
    write("keeper.py", old)
    config = {"endpoints": [endpoint("/k", "keeper.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        first, second = await server.connect("/k"), await server.connect("/k")
        assert await first.send("x") is None and await first.receive() == "old"
        ids = sorted(server.hub.connections)
        await edit(server, write, "keeper.py", new)
        reply = await ask(first)
        assert reply == {
            "id": reply["id"],
            "rooms": ["lobby"],
            "state": {"count": 42},
            "auth": {"sub": "ann", "role": "admin"},
            "user": "ann",
            "lobby": ids,
        }
        assert (await ask(second))["state"] == {"count": 42}
        assert sorted(server.hub.connections) == ids


async def test_helper_module_edit_reloads_every_handler_importing_it(write: WriteFile) -> None:
    """A helper edit reloads the handlers that import it, directly or through another helper."""
    write("shared/__init__.py", "")
    write("shared/words.py", "GREETING = 'hello'\n")
    write(
        "shared/format.py", "from .words import GREETING\ndef greet(n): return f'{GREETING} {n}'\n"
    )
    write(
        "direct.py",
        "from shared import words\nasync def on_message(c, d): await c.send(words.GREETING)\n",
    )
    write(
        "indirect.py",
        "from shared.format import greet\nasync def on_message(c, d): await c.send(greet(d))\n",
    )
    write("unrelated.py", "async def on_message(c, d): await c.send('same')\n")
    config = {
        "endpoints": [
            endpoint("/direct", "direct.py"),
            endpoint("/indirect", "indirect.py"),
            endpoint("/unrelated", "unrelated.py"),
        ]
    }
    async with run_server(config, base_dir=base(write), reload=True) as server:
        direct, indirect = await server.connect("/direct"), await server.connect("/indirect")
        assert await ask(direct, 1) == "hello"
        assert await ask(indirect, 2) == "hello 2"
        report = await edit(server, write, "shared/words.py", "GREETING = 'howdy'\n")
        assert report.ok
        assert set(report.reloaded) == {"shared.words", "shared.format", "direct", "indirect"}
        assert report.reloaded.index("shared.words") < report.reloaded.index("shared.format")
        assert await ask(direct, 1) == "howdy"
        assert await ask(indirect, 2) == "howdy 2"


async def test_two_edits_within_one_second_both_take_effect(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two saves of the same size and modification second both run: no stale bytecode."""
    # A .pyc of the first version must exist for a stale one to be possible.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = write("twice.py", ECHO_VERSION.format(version="a"))
    stamp = int(path.stat().st_mtime)
    config = {"endpoints": [endpoint("/t", "twice.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/t")
        assert (await ask(client))["version"] == "a"
        for version in ("b", "c"):
            async with server.reloaded():
                write("twice.py", ECHO_VERSION.format(version=version))
                os.utime(path, (stamp, stamp))
            assert (await ask(client))["version"] == version
        assert list((path.parent / "__pycache__").glob("twice.*.pyc"))


@pytest.mark.parametrize(
    ("broken", "line", "error"),
    [
        ("VERSION = 2\ndef on_message(conn, data:\n", 2, "SyntaxError"),
        ("VERSION = 2\nraise RuntimeError('bad config value')\n", 2, "RuntimeError"),
        ("VERSION = 2\nfrom helper import missing_name\n", 2, "ImportError"),
        ("VERSION = 2\nprint(undefined_name)\n", 2, "NameError"),
    ],
)
async def test_import_failure_keeps_old_code_and_next_good_save_recovers(
    write: WriteFile, caplog: pytest.LogCaptureFixture, broken: str, line: int, error: str
) -> None:
    """A failing save leaves the old code serving, is logged once with file:line, then recovers."""
    write("helper.py", "NAME = 'x'\n")
    write("fragile.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/f", "fragile.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/f")
        with caplog.at_level(logging.INFO, logger="mockws.reload"):
            report = await edit(server, write, "fragile.py", broken)
            assert not report.ok and report.reloaded == []
            assert await ask(client) == {"version": 1, "data": "hi"}
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1, [r.getMessage() for r in errors]
            assert f"fragile.py:{line}: {error}" in errors[0].getMessage()
            await edit(server, write, "fragile.py", ECHO_VERSION.format(version=3))
        assert await ask(client) == {"version": 3, "data": "hi"}
        assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1


async def test_broken_helper_keeps_its_importers_on_the_old_code(write: WriteFile) -> None:
    """When a helper fails to import, the handlers importing it keep their previous version."""
    write("consts.py", "WORD = 'one'\n")
    write("user.py", "from consts import WORD\nasync def on_message(c, d): await c.send(WORD)\n")
    config = {"endpoints": [endpoint("/u", "user.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/u")
        report = await edit(server, write, "consts.py", "WORD = 'two\n")
        assert report.skipped == ["user"] and len(report.failed) == 1
        assert await ask(client) == "one"
        await edit(server, write, "consts.py", "WORD = 'three'\n")
        assert await ask(client) == "three"


TICKER = """
import asyncio
VERSION = {version!r}
CANCELLED = []
async def on_connect(conn):
    conn.join("ticks")
async def background(hub):
    try:
        while True:
            await hub.broadcast({{"tick": VERSION}}, rooms="ticks")
            await asyncio.sleep(0.01)
    except asyncio.CancelledError:
        CANCELLED.append(VERSION)
        raise
"""


async def next_tick_from(client: MockClient, version: str) -> None:
    async with asyncio.timeout(3):
        while (await client.receive_json())["tick"] != version:
            pass


async def test_background_task_is_restarted_from_the_new_code(write: WriteFile) -> None:
    """A reload cancels the old background(hub) task and starts the new module's."""
    write("ticker.py", TICKER.format(version="old"))
    config = {"endpoints": [endpoint("/t", "ticker.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/t")
        await next_tick_from(client, "old")
        old_module = server.server.slots["ticker"].module
        await edit(server, write, "ticker.py", TICKER.format(version="new"))
        await next_tick_from(client, "new")
        assert old_module.CANCELLED == ["old"]
        # Once the new ticker runs, the old one sends nothing more.
        for _ in range(5):
            assert (await client.receive_json())["tick"] == "new"


STUBBORN = """
import asyncio
VERSION = {version!r}
RELEASE = []
async def on_connect(conn):
    conn.join("ticks")
async def on_message(conn, data):
    await conn.send({{"reply": VERSION}})
async def background(hub):
    deadline = asyncio.get_running_loop().time() + 5
    while not RELEASE and asyncio.get_running_loop().time() < deadline:
        try:
            await hub.broadcast({{"tick": VERSION}}, rooms="ticks")
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass  # ignores cancellation until released
"""


async def test_background_task_ignoring_cancellation_never_blocks_the_reload(
    write: WriteFile, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that ignores cancellation is abandoned with a warning; the new code serves at once."""
    write("stubborn.py", STUBBORN.format(version="old"))
    config = {"endpoints": [endpoint("/s", "stubborn.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        server.server.background.grace = 0.6
        client = await server.connect("/s")
        await next_tick_from(client, "old")
        old_module = server.server.slots["stubborn"].module
        with caplog.at_level(logging.WARNING, logger="mockws.server"):
            loop = asyncio.get_running_loop()
            await edit(server, write, "stubborn.py", STUBBORN.format(version="new"))
            reloaded_at = loop.time()
            await client.send("x")
            async with asyncio.timeout(3):
                while "reply" not in (message := await client.receive_json()):
                    pass
            assert message == {"reply": "new"}
            assert loop.time() - reloaded_at < 0.5, "the reply waited for the old task"
            await next_tick_from(client, "new")
            assert any("ignored cancellation" in r.getMessage() for r in caplog.records)
            old_module.RELEASE.append(True)
            server.server.slots["stubborn"].module.RELEASE.append(True)


CONFIG = """
endpoints:
  - pattern: /a
    handler: first.py
{extra}
"""


async def test_config_edit_adds_and_removes_endpoints(write: WriteFile) -> None:
    """An added endpoint starts serving; a removed one closes its connections with 1012."""
    write("first.py", "async def on_message(c, d): await c.send('first')\n")
    write("second.py", "async def on_message(c, d): await c.send('second')\n")
    path = write("mockws.yaml", CONFIG.format(extra=""))
    async with run_server(path, reload=True) as server:
        client = await server.connect("/a")
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await server.connect("/b")
        extra = "  - pattern: /b\n    handler: second.py"
        report = await edit(server, write, "mockws.yaml", CONFIG.format(extra=extra))
        assert report.config.added == ("/b",)
        added = await server.connect("/b")
        assert await ask(added) == "second"
        assert await ask(client) == "first"
        only_b = "endpoints:\n  - pattern: /b\n    handler: second.py\n"
        report = await edit(server, write, "mockws.yaml", only_b)
        assert report.config.removed == ("/a",) and report.config.closed == 1
        assert await client.expect_close() == (1012, "Service restart")
        assert await ask(added) == "second"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await server.connect("/a")
        assert refused.value.status == 404


async def test_config_edit_changes_options_for_new_connections_only(write: WriteFile) -> None:
    """A changed option applies to new connections; open ones keep theirs and stay open."""
    write("first.py", "async def on_message(c, d): await c.send(type(d).__name__)\n")
    path = write("mockws.yaml", CONFIG.format(extra=""))
    async with run_server(path, reload=True) as server:
        before = await server.connect("/a")
        report = await edit(
            server, write, "mockws.yaml", CONFIG.format(extra="    parse_json: false")
        )
        assert report.config.changed == ("/a",) and report.config.closed == 0
        after = await server.connect("/a")
        assert await ask(before, {"k": 1}) == "dict"
        assert await ask(after, {"k": 1}) == "str"


async def test_new_endpoint_handler_is_followed_for_later_edits(write: WriteFile) -> None:
    """A handler added by a config edit is watched from then on."""
    write("first.py", "async def on_message(c, d): await c.send('first')\n")
    write("later.py", ECHO_VERSION.format(version=1))
    path = write("mockws.yaml", CONFIG.format(extra=""))
    async with run_server(path, reload=True) as server:
        extra = "  - pattern: /later\n    handler: later.py"
        await edit(server, write, "mockws.yaml", CONFIG.format(extra=extra))
        client = await server.connect("/later")
        assert (await ask(client))["version"] == 1
        await edit(server, write, "later.py", ECHO_VERSION.format(version=2))
        assert (await ask(client))["version"] == 2


async def test_invalid_config_edit_is_reported_and_running_config_stays(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad config edit logs file:line: key and changes nothing; fixing it applies it."""
    write("first.py", "async def on_message(c, d): await c.send('first')\n")
    path = write("mockws.yaml", CONFIG.format(extra=""))
    async with run_server(path, reload=True) as server:
        client = await server.connect("/a")
        with caplog.at_level(logging.ERROR, logger="mockws.reload"):
            report = await edit(
                server, write, "mockws.yaml", CONFIG.format(extra="    heartbeat: fast")
            )
        assert report.config is None and not report.ok
        message = caplog.records[-1].getMessage()
        assert "mockws.yaml:4: endpoints[0].heartbeat: expected a number of seconds" in message
        assert await ask(client) == "first"
        assert server.server.config.endpoints[0].heartbeat is None
        await edit(server, write, "mockws.yaml", CONFIG.format(extra="    heartbeat: 20"))
        assert server.server.config.endpoints[0].heartbeat == 20
        assert await ask(client) == "first"


async def test_config_edit_naming_a_broken_handler_changes_nothing(write: WriteFile) -> None:
    """If a new endpoint's handler fails to import, the running config stays."""
    write("first.py", "async def on_message(c, d): await c.send('first')\n")
    write("broken.py", "def on_message(:\n")
    path = write("mockws.yaml", CONFIG.format(extra=""))
    async with run_server(path, reload=True) as server:
        extra = "  - pattern: /b\n    handler: broken.py"
        report = await edit(server, write, "mockws.yaml", CONFIG.format(extra=extra))
        assert report.config_error is not None and "broken.py:1" in report.config_error
        assert [e.pattern for e in server.server.endpoints] == ["/a"]


async def test_message_stream_during_reloads_loses_nothing(write: WriteFile) -> None:
    """Messages sent while the handler reloads are each answered once, in order."""
    write("stream.py", ECHO_VERSION.format(version=0))
    config = {"endpoints": [endpoint("/s", "stream.py")]}
    total = 400
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/s")

        async def produce() -> None:
            for seq in range(total):
                await client.send(seq)
                await asyncio.sleep(0.001)

        producer = asyncio.create_task(produce())
        for version in range(1, 6):
            await edit(server, write, "stream.py", ECHO_VERSION.format(version=version))
        await producer
        replies = [await client.receive_json() for _ in range(total)]
        assert [reply["data"] for reply in replies] == list(range(total))
        versions = [reply["version"] for reply in replies]
        assert versions == sorted(versions) and versions[-1] == 5
        with pytest.raises(TimeoutError):
            await client.receive(timeout=0.05)


async def test_handler_outside_any_package_reloads(write: WriteFile) -> None:
    """A handler in a folder that is no Python package name (my-handlers/) reloads too."""
    write("my-handlers/odd.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/o", "my-handlers/odd.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/o")
        assert (await ask(client))["version"] == 1
        await edit(server, write, "my-handlers/odd.py", ECHO_VERSION.format(version=2))
        assert (await ask(client))["version"] == 2


async def test_deleted_handler_keeps_serving_with_one_warning(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleting a handler file warns once and keeps its loaded version serving."""
    path = write("doomed.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/d", "doomed.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        client = await server.connect("/d")
        with caplog.at_level(logging.WARNING, logger="mockws.reload"):
            path.unlink()
            for _ in range(2):
                assert await server.reloader.apply({str(path.resolve())}) is None
        warnings = [r.getMessage() for r in caplog.records if "was deleted" in r.getMessage()]
        assert len(warnings) == 1
        assert (await ask(client))["version"] == 1


async def test_unchanged_save_does_not_reload(write: WriteFile) -> None:
    """Saving a file without changing it reloads nothing."""
    path = write("same.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/s", "same.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        before = server.reloader.generation
        path.touch()
        assert await server.reloader.apply({str(path.resolve())}) is None
        assert server.reloader.generation == before


async def test_reload_is_off_unless_asked(write: WriteFile) -> None:
    """run_server does not reload by default; reload=True starts the reloader."""
    write("h.py", "")
    config = {"endpoints": [endpoint("/h", "h.py")]}
    async with run_server(config, base_dir=base(write)) as server:
        assert server.server.on_started == []
        with pytest.raises(RuntimeError):
            server.reloader  # noqa: B018 - the property raises
    async with run_server(config, base_dir=base(write), reload=True) as server:
        assert server.reloader.generation == 0
        assert server.server.on_started == [server.reloader.start]


@pytest.mark.parametrize(
    ("yaml_reload", "flags", "expected"),
    [
        ("", [], True),
        ("reload: false\n", [], False),
        ("", ["--no-reload"], False),
        ("reload: false\n", ["--reload"], True),
    ],
)
def test_serve_reloads_by_default_and_can_be_turned_off(
    write: WriteFile,
    monkeypatch: pytest.MonkeyPatch,
    yaml_reload: str,
    flags: list[str],
    expected: bool,
) -> None:
    """serve reloads by default; reload: false and --no-reload turn it off."""
    write("h.py", "")
    path = write("mockws.yaml", yaml_reload + "endpoints:\n  - {pattern: /h, handler: h.py}\n")
    seen: list[Config] = []

    async def fake_serve(config: Config, *_: object) -> None:
        seen.append(config)

    monkeypatch.setattr(mockws.cli.commands, "_serve", fake_serve)
    result = CliRunner().invoke(mockws.cli.commands.main, ["serve", "--config", str(path), *flags])
    assert result.exit_code == 0, result.output
    assert seen[0].reload is expected


async def test_edited_authenticate_module_applies_to_the_next_connection(
    write: WriteFile,
) -> None:
    """A module named by `authenticate: file.py:function` is watched and reloaded too."""
    write("gate.py", "def check(request):\n    return True\n")
    write("echo.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/g", "echo.py", authenticate="gate.py:check")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        first = await server.connect("/g")
        assert await ask(first) == {"version": 1, "data": "hi"}
        await edit(server, write, "gate.py", "def check(request):\n    return False\n")
        refused = await server.connect("/g")
        assert await refused.expect_close() == (4003, "Forbidden")
        assert await ask(first) == {"version": 1, "data": "hi"}


async def test_reload_is_published_on_the_event_bus(write: WriteFile) -> None:
    """Each reload publishes one Reloaded event, so the inspector can show it."""
    from mockws.events import Event, Reloaded

    write("echo.py", ECHO_VERSION.format(version=1))
    config = {"endpoints": [endpoint("/e", "echo.py")]}
    async with run_server(config, base_dir=base(write), reload=True) as server:
        seen: list[Event] = []
        unsubscribe = server.hub.events.subscribe(seen.append, messages=False)
        await edit(server, write, "echo.py", ECHO_VERSION.format(version=2))
        await edit(server, write, "echo.py", "def on_message(conn, data)\n")
        unsubscribe()
        reloads = [event for event in seen if isinstance(event, Reloaded)]
        assert [event.ok for event in reloads] == [True, False]
        assert reloads[0].target.endswith("echo.py") and "reloaded" in reloads[0].message
        assert "SyntaxError" in reloads[1].message
