"""Defects 2 and 3: the handlers users copy (init's starter, the docs' chat) take every message.

Their own comments say JSON text arrives parsed, other text as str and
binary as bytes; each must answer all of those, JSON arrays and numbers too,
without raising.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from mockws.cli.init import write_starter
from mockws.observe.events import Event, HandlerFailed
from mockws.testing import RunningServer, run_server

from .helpers import ROOT, endpoint

CHAT_DOCS = ["README.md", "docs/quickstart.md", "docs/testing.md"]
AWKWARD = ["plain text", b"\x00\xffbinary", [1, 2], 42, None, "[not json", {"type": "join"}]


def chat_handler(doc: str) -> str:
    """The Python block of ``doc`` that defines the chat handler's on_message."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), re.S)
    found = [b for b in blocks if "async def on_message" in b and '"chat"' in b]
    assert len(found) == 1, f"{doc}: expected one chat handler block, found {len(found)}"
    return found[0]


async def answers_without_errors(server: RunningServer, path: str) -> list[Any]:
    """Send every awkward kind of message; return the replies; fail on any handler error."""
    failures: list[Event] = []
    unsubscribe = server.hub.events.subscribe(
        lambda event: failures.append(event) if isinstance(event, HandlerFailed) else None,
        messages=False,
    )
    try:
        client = await server.connect(path)
        await client.receive()  # welcome
        replies = []
        for message in AWKWARD:
            await client.send(message if message is not None else "null")
            replies.append(await client.receive())
        await client.send({"type": "join", "room": "lobby"})
        await server.expect_message({"type": "join", "room": "lobby"})
        assert "lobby" in server.hub.get("c1").rooms  # type: ignore[union-attr]
    finally:
        unsubscribe()
    assert not failures, [getattr(event, "error", event) for event in failures]
    return replies


@pytest.mark.parametrize("doc", CHAT_DOCS)
async def test_docs_chat_handler_handles_every_kind_of_message(doc: str, tmp_path: Path) -> None:
    """Text, bytes, a JSON array, a number, null, an object without a room: an error reply each."""
    (tmp_path / "chat.py").write_text(
        "async def on_connect(conn):\n    await conn.send({'type': 'welcome'})\n\n"
        + chat_handler(doc).replace("async def on_connect", "async def _unused_on_connect")
    )
    config = {"endpoints": [endpoint("/ws/chat", "chat.py")]}
    async with run_server(config, base_dir=tmp_path, fresh_modules=True) as server:
        replies = await answers_without_errors(server, "/ws/chat")
    assert all(reply.get("type") == "error" for reply in replies), replies


async def test_init_starter_echoes_binary_as_binary(tmp_path: Path) -> None:
    """The starter promises an echo: bytes come back as the same binary message."""
    write_starter(tmp_path)
    async with run_server(tmp_path / "mockws.yaml", fresh_modules=True) as server:
        replies = await answers_without_errors(server, "/ws")
    assert replies[1] == b"\x00\xffbinary"
    assert replies[0] == {"type": "echo", "data": "plain text"}
    assert replies[2] == {"type": "echo", "data": [1, 2]}
    assert replies[-1] == {"type": "error", "error": "'join' needs a 'room'"}
