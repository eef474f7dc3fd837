"""Event loop choice for `mockws serve` (mockws/cli/loops.py) and the --loop option."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from mockws import cli
from mockws.cli.loops import LoopUnavailable, loop_factory, run
from mockws.config import config_from_mapping
from mockws.server.app import MockServer

from ..helpers import WriteFile, endpoint

try:
    import uvloop
except ImportError:  # pragma: no cover - the speed extra is optional
    uvloop = None

needs_uvloop = pytest.mark.skipif(uvloop is None, reason="uvloop not installed")


def test_asyncio_choice_uses_the_default_loop() -> None:
    """--loop asyncio gives no factory, so asyncio makes its own loop."""
    assert loop_factory("asyncio") == ("asyncio", None)


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """auto picks asyncio when uvloop cannot be imported."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    assert loop_factory("auto") == ("asyncio", None)


def test_uvloop_choice_without_uvloop_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for uvloop when it is missing fails with exit code 2 and the install hint."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    with pytest.raises(LoopUnavailable, match=r"pip install 'mockws\[speed\]'") as caught:
        loop_factory("uvloop")
    assert caught.value.exit_code == 2


def test_unknown_choice_is_rejected() -> None:
    """A loop name outside the choices raises ValueError naming them."""
    with pytest.raises(ValueError, match="auto, asyncio, uvloop"):
        loop_factory("trio")


@needs_uvloop
def test_auto_prefers_uvloop_when_installed() -> None:
    """auto picks uvloop when it is importable."""
    name, factory = loop_factory("auto")
    assert name == "uvloop"
    assert factory is not None and isinstance(factory(), uvloop.Loop)


@needs_uvloop
def test_server_serves_on_uvloop(write: WriteFile) -> None:
    """A MockServer started on uvloop binds its port and echoes over a real socket."""
    write("echo.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    config = config_from_mapping(
        {"port": 0, "endpoints": [endpoint("/e", "echo.py")]}, base_dir=write("x", "").parent
    )

    async def scenario() -> object:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        server = MockServer(config)
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(server.url("/e")) as socket:
                    await socket.send_json({"n": 1})
                    return await asyncio.wait_for(socket.receive_json(), 5)
        finally:
            await server.stop()

    assert run(scenario(), "uvloop") == {"n": 1}


def test_serve_loop_uvloop_missing_exits_2(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`mockws serve --loop uvloop` without uvloop prints the hint and exits 2."""
    monkeypatch.setitem(sys.modules, "uvloop", None)
    config = tmp_path / "mockws.yaml"
    config.write_text("endpoints: []\n", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["serve", "--config", str(config), "--loop", "uvloop"])
    assert result.exit_code == 2
    assert "uvloop is not installed" in result.output
