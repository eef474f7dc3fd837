"""docs/rules.md: every YAML example loads, and the chat recipe works as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockws.config import load_config
from mockws.server.endpoints import load_endpoints
from mockws.testing import run_server

from .helpers import ROOT, WriteFile

DOC = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)


def as_config(block: str) -> str:
    """A recipe fragment as a whole config."""
    if block.startswith("endpoints:"):
        return block
    if block.startswith("  - pattern"):
        return "endpoints:\n" + block
    return "endpoints:\n  - pattern: /x\n" + block


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{n}" for n in range(len(BLOCKS))])
def test_every_yaml_example_loads(write: WriteFile, block: str) -> None:
    """Each YAML block of docs/rules.md is a valid config (fragments inside an endpoint)."""
    write("handlers/app.py", "async def on_message(conn, data):\n    pass\n")
    load_endpoints(load_config(write("mockws.yaml", as_config(block))))


async def test_the_chat_recipe(write: WriteFile, project: Path) -> None:
    """Chat without Python: join, chat to the others, a too-long message, a nick in state."""
    [block] = [b for b in BLOCKS if "pattern: /ws/chat" in b]
    path = write("mockws.yaml", as_config(block))
    async with run_server(path) as server:
        ann, bob = await server.connect("/ws/chat"), await server.connect("/ws/chat")
        for client in (ann, bob):
            assert (await client.receive())["type"] == "welcome"
            await client.send({"type": "join", "room": "r"})
            assert await client.receive() == {"type": "joined", "room": "r"}
        await ann.send({"type": "chat", "room": "r", "text": "hi"})
        assert await bob.receive() == {"type": "chat", "from": "c1", "room": "r", "text": "hi"}
        await ann.send({"type": "chat", "room": "r", "text": "x" * 600})
        assert await ann.receive() == {"type": "error", "error": "message too long"}
        await bob.send({"type": "nick", "nick": "bo"})
        assert await bob.receive() == {"type": "nick", "nick": "bo"}
