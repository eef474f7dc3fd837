"""MockServer.apply_config over real sockets: endpoints added, changed and removed in place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from mockws.config import config_from_mapping
from mockws.testing import MockClient, run_server

from ..helpers import WriteFile, endpoint


def base(write: WriteFile) -> Path:
    return write("x.txt", "").parent


async def ask(client: MockClient) -> object:
    await client.send("hi")
    return await client.receive()


def named(name: str) -> str:
    return f"async def on_message(conn, data):\n    await conn.send({name!r})\n"


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        ({"/one": "rc_one.py"}, {"/two": "rc_two.py"}, ((), ("/two",), ("/one",))),
        ({"/p": "rc_one.py"}, {"/p": "rc_two.py"}, (("/p",), (), ())),
    ],
    ids=["pattern-replaced", "handler-replaced"],
)
async def test_connections_no_longer_served_close_1012(
    write: WriteFile,
    before: dict[str, str],
    after: dict[str, str],
    change: tuple[tuple[str, ...], ...],
) -> None:
    """Dropping a pattern, or pointing it at another handler, closes its connections with 1012."""
    write("rc_one.py", named("one"))
    write("rc_two.py", named("two"))
    folder = base(write)
    mapping = {"endpoints": [endpoint(pattern, h) for pattern, h in before.items()]}
    async with run_server(mapping, base_dir=folder) as s:
        old = await s.connect(next(iter(before)))
        applied = await s.server.apply_config(
            config_from_mapping(
                {"endpoints": [endpoint(pattern, h) for pattern, h in after.items()]},
                base_dir=folder,
            )
        )
        assert (applied.changed, applied.added, applied.removed) == change
        assert applied.closed == 1
        assert await old.expect_close() == (1012, "Service restart")
        assert await ask(await s.connect(next(iter(after)))) == "two"
        for removed in applied.removed:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await s.connect(removed)
            assert refused.value.status == 404


async def test_unchanged_config_keeps_everything(write: WriteFile) -> None:
    """Applying the same config changes nothing and closes nothing."""
    write("rc_one.py", named("one"))
    folder = base(write)
    mapping = {"endpoints": [endpoint("/one", "rc_one.py")]}
    async with run_server(mapping, base_dir=folder) as s:
        client = await s.connect("/one")
        before = s.server.endpoints[0]
        change = await s.server.apply_config(config_from_mapping(mapping, base_dir=folder))
        assert change.describe() == "no endpoint changed"
        assert s.server.endpoints[0] is before
        assert await ask(client) == "one"


async def test_background_of_added_and_removed_handlers(write: WriteFile) -> None:
    """A handler that arrives starts its background task; one that leaves has it cancelled."""
    write(
        "rc_bg.py",
        """
import asyncio
STATE = {"running": False}
async def background(hub):
    STATE["running"] = True
    try:
        await asyncio.Event().wait()
    finally:
        STATE["running"] = False
""",
    )
    write("rc_one.py", named("one"))
    folder = base(write)
    plain = {"endpoints": [endpoint("/one", "rc_one.py")]}
    with_bg = {"endpoints": [endpoint("/one", "rc_one.py"), endpoint("/bg", "rc_bg.py")]}
    async with run_server(plain, base_dir=folder) as s:
        await s.server.apply_config(config_from_mapping(with_bg, base_dir=folder))
        await asyncio.sleep(0.01)
        module = s.server.slots["rc_bg"].module
        assert module.STATE["running"] is True
        await s.server.apply_config(config_from_mapping(plain, base_dir=folder))
        assert module.STATE["running"] is False
        assert "rc_bg" not in s.server.slots


async def test_bind_address_is_kept(write: WriteFile) -> None:
    """A config naming another host or port does not move the running server."""
    write("rc_one.py", named("one"))
    folder = base(write)
    mapping = {"endpoints": [endpoint("/one", "rc_one.py")]}
    async with run_server(mapping, base_dir=folder) as s:
        port = s.port
        moved = config_from_mapping({**mapping, "port": 1, "host": "0.0.0.0"}, base_dir=folder)
        await s.server.apply_config(moved)
        assert (s.server.config.host, s.server.config.port) == ("127.0.0.1", 0)
        assert s.port == port
        assert await ask(await s.connect("/one")) == "one"


async def test_prefix_and_allowed_origins_apply_to_the_next_connection(write: WriteFile) -> None:
    """A new prefix and new allowed origins take effect for the next upgrade request."""
    write("rc_one.py", named("one"))
    folder = base(write)
    mapping = {"endpoints": [endpoint("/one", "rc_one.py")]}
    async with run_server(mapping, base_dir=folder) as s:
        client = await s.connect("/one")
        site = {"Origin": "https://app.example"}
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await s.connect("/one", headers=site)
        assert refused.value.status == 403
        edited = {**mapping, "prefix": "/api", "allowed_origins": ["https://app.example"]}
        await s.server.apply_config(config_from_mapping(edited, base_dir=folder))
        assert await ask(await s.connect("/one", headers=site)) == "one"
        assert s.url("/one").endswith("/api/one")
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as missing:
                await http.ws_connect(f"http://127.0.0.1:{s.port}/one")
        assert missing.value.status == 404
        assert await ask(client) == "one"


def test_route_changes_list_added_changed_and_removed_routes() -> None:
    """route_changes() compares routes by METHOD /pattern, and their settings."""
    from mockws.server.reconfig import ConfigChange, route_changes

    def routes(*entries: dict[str, object]) -> tuple[object, ...]:
        return config_from_mapping({"http": list(entries)}).http

    before = routes({"route": "GET /a", "json": 1}, {"route": "GET /b"}, {"route": "GET /c"})
    after = routes({"route": "GET /a", "json": 2}, {"route": "GET /b"}, {"route": "POST /d"})
    changes = route_changes(before, after)  # type: ignore[arg-type]
    assert changes == ("+POST /d", "~GET /a", "-GET /c")
    assert ConfigChange(routes=changes).describe() == (
        "no endpoint changed; routes +POST /d ~GET /a -GET /c"
    )
