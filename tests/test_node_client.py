"""The example chat driven by a client in another language: Node's `ws`."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from mockws.testing import run_server

from .helpers import EXAMPLE_CONFIG

NODE_DIR = Path(__file__).parent / "node"
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(NODE is None, reason="Node.js is not installed"),
    pytest.mark.skipif(
        not (NODE_DIR / "node_modules" / "ws").is_dir(),
        reason="npm package 'ws' missing: run npm install --prefix tests/node",
    ),
]


async def test_node_ws_client_chats_through_the_example() -> None:
    """Two Node ws clients join a room, chat, and see each other's presence and close."""
    async with run_server(EXAMPLE_CONFIG) as server:
        process = await asyncio.create_subprocess_exec(
            str(NODE),
            str(NODE_DIR / "chat_client.mjs"),
            server.url("/ws/chat"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    ann_id, bob_id = result["annWelcome"]["id"], result["bobWelcome"]["id"]
    assert ann_id != bob_id
    assert result["annJoined"] == {"type": "joined", "room": "lobby"}
    assert result["annPresence"] == {"type": "presence", "room": "lobby", "joined": bob_id}
    assert result["bobChat"] == {
        "type": "chat",
        "room": "lobby",
        "from": ann_id,
        "text": "hi from node",
    }
    assert result["bobCloseCode"] == 1000
    assert result["annPresenceLeft"] == {"type": "presence", "room": "lobby", "left": bob_id}


@pytest.mark.skipif(
    not (NODE_DIR / "node_modules" / "socket.io-client").is_dir(),
    reason="npm package 'socket.io-client' missing: run npm install --prefix tests/node",
)
@pytest.mark.parametrize("transport", ["polling", "websocket"])
async def test_node_socketio_client_chats_through_the_example(transport: str) -> None:
    """socket.io-client on each transport: acks, room broadcast with the sender, refusal."""
    async with run_server(EXAMPLE_CONFIG) as server:
        url = server.server.url("/socket.io/").removesuffix("/socket.io/")
        process = await asyncio.create_subprocess_exec(
            str(NODE),
            str(NODE_DIR / "sio_client.mjs"),
            url,
            transport,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, stderr.decode()
    result = json.loads(stdout)
    assert result["annTransport"] == transport
    assert result["annJoin"] == {"room": "lobby", "members": 1}
    assert result["bobJoin"] == {"room": "lobby", "members": 2}
    assert result["annPresence"] == [{"room": "lobby", "joined": "bob"}]
    assert result["bobAck"] == {"ok": True}
    chat = [{"room": "lobby", "from": "bob", "text": "hi from node"}]
    assert result["annChat"] == chat and result["bobChat"] == chat
    assert result["annPresenceLeft"] == [{"room": "lobby", "left": "bob"}]
    assert result["refused"] == {
        "message": "a name is required: io(url, {auth: {name: 'ann'}})",
        "data": {"code": 4003},
    }
