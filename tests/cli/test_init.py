"""`mockws init` writes a starter that works at once (mockws/cli/init.py)."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
import websockets
from click.testing import CliRunner

from mockws.cli import main
from mockws.cli.init import RULES_STARTER_FILES, STARTER_FILES

from ..helpers import killed_on_exit, start_serve


async def test_init_then_serve_the_result(tmp_path: Path) -> None:
    """init writes mockws.yaml and a handler; serving them answers, echoes and fans out."""
    folder = tmp_path / "mock"
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Next: cd {folder} && mockws serve" in result.output
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*")) == sorted(STARTER_FILES)

    process, lines = await start_serve("--port", "0", cwd=folder)
    async with killed_on_exit(process):
        url = next(line.split()[1] for line in lines if "ws://" in line)
        assert url.endswith("/ws")
        async with websockets.connect(url) as alice, websockets.connect(url) as bob:
            for client, name in ((alice, "c1"), (bob, "c2")):
                assert json.loads(await client.recv()) == {"type": "welcome", "id": name}
                await client.send('{"type": "join", "room": "lobby"}')
                assert json.loads(await client.recv()) == {"type": "joined", "room": "lobby"}
            await alice.send('{"type": "say", "room": "lobby", "text": "hi"}')
            said = json.loads(await asyncio.wait_for(bob.recv(), 5))
            assert said == {"type": "said", "room": "lobby", "from": "c1", "text": "hi"}
            await bob.send("plain text")
            echo = json.loads(await asyncio.wait_for(bob.recv(), 5))
            assert echo == {"type": "echo", "data": "plain text"}
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0


@pytest.mark.parametrize("existing", ["mockws.yaml", "mockws.py", "handlers/app.py"])
def test_init_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    """init exits 2 naming the file in the way, and writes nothing."""
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("# mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert f"{tmp_path / existing} already exists; not overwriting" in result.output
    assert sorted(p.name for p in tmp_path.rglob("*.*")) == [Path(existing).name]
    assert (tmp_path / existing).read_text() == "# mine\n"


def test_init_here_prints_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a folder, init writes into the current one and the next step is `mockws serve`."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert "Next: mockws serve\n" in result.output
    assert (tmp_path / "mockws.yaml").is_file() and (tmp_path / "handlers" / "app.py").is_file()


async def test_init_rules_writes_a_yaml_only_starter_that_serves(tmp_path: Path) -> None:
    """init --rules writes only mockws.yaml; served, its rules answer without any Python."""
    folder = tmp_path / "rules"
    result = CliRunner().invoke(main, ["init", "--rules", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*")) == sorted(
        RULES_STARTER_FILES
    )
    process, lines = await start_serve("--port", "0", cwd=folder)
    async with killed_on_exit(process):
        url = next(line.split()[1] for line in lines if "ws://" in line)
        async with websockets.connect(url) as alice, websockets.connect(url) as bob:
            for client, name in ((alice, "c1"), (bob, "c2")):
                assert json.loads(await client.recv()) == {"type": "welcome", "id": name}
                await client.send('{"type": "join", "room": "lobby"}')
                assert json.loads(await client.recv()) == {"type": "joined", "room": "lobby"}
            await alice.send('{"type": "say", "room": "lobby", "text": "hi"}')
            said = json.loads(await asyncio.wait_for(bob.recv(), 5))
            assert said == {"type": "said", "from": "c1", "text": "hi"}
            await bob.send('{"type": "ping"}')
            assert json.loads(await asyncio.wait_for(bob.recv(), 5))["type"] == "pong"
            await bob.send("plain text")
            echo = json.loads(await asyncio.wait_for(bob.recv(), 5))
            assert echo == {"type": "echo", "data": "plain text"}
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 10) == 0
