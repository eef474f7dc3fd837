"""Subprotocol choice, message size and UTF-8 limits, seen on the wire."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint, eventually
from ..rawws import OP_BINARY, OP_CLOSE, OP_TEXT, RawClient, raw_connect

HANDLER = """
CLOSED = []

async def on_connect(conn):
    await conn.send({"subprotocol": conn.subprotocol})

async def on_message(conn, data):
    await conn.send({"got": len(data)})

async def on_close(conn, code, reason):
    CLOSED.append((code, reason))
"""


@pytest.fixture
async def server(project: Path, write: WriteFile) -> Any:
    """/p lists two subprotocols and takes messages up to 1000 bytes; /none lists none."""
    write("limits.py", HANDLER)
    config = {
        "endpoints": [
            endpoint("/p", "limits.py", subprotocols=["chat.v2", "chat.v1"], max_message_size=1000),
            endpoint("/none", "limits.py"),
        ]
    }
    async with run_server(config, base_dir=project) as running:
        yield running


def closed(server: RunningServer) -> list[tuple[int, str]]:
    return server.server.endpoints[0].handler.module.CLOSED  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "offered", "chosen"),
    [
        ("/p", "chat.v1, chat.v2", "chat.v1"),
        ("/p", "other, chat.v2", "chat.v2"),
        ("/p", "other, another", None),
        ("/none", "chat.v1", None),
    ],
)
async def test_first_offered_protocol_the_server_lists_wins(
    server: RunningServer, path: str, offered: str, chosen: str | None
) -> None:
    """The client's first protocol that the endpoint lists is echoed; no match sends no header."""
    client = await raw_connect(server.port, path, {"Sec-WebSocket-Protocol": offered})
    assert client.status == 101
    assert client.headers.get("sec-websocket-protocol") == chosen
    hello = await client.read_data_frame()
    assert hello.payload == b'{"subprotocol":%s}' % (
        b'"%s"' % chosen.encode() if chosen else b"null"
    )
    await client.close()


async def expect_close(client: RawClient, code: int) -> None:
    frame = await client.read_data_frame()
    assert frame.opcode == OP_CLOSE and frame.close_code == code, frame


async def test_message_of_exactly_max_size_passes_and_one_more_closes_1009(
    server: RunningServer,
) -> None:
    """A binary message of max_message_size bytes is handled; one byte more closes with 1009."""
    client = await raw_connect(server.port, "/p")
    await client.read_data_frame()
    client.send_frame(OP_BINARY, b"x" * 1000)
    assert (await client.read_data_frame()).payload == b'{"got":1000}'
    client.send_frame(OP_BINARY, b"x" * 1001)
    await expect_close(client, 1009)
    await eventually(lambda: bool(closed(server)))
    assert closed(server) == [(1009, "Message too big: over max_message_size (1000 bytes)")]
    await client.close()


async def test_fragmented_message_over_the_limit_closes_1009(server: RunningServer) -> None:
    """Fragments that each fit but together pass max_message_size close with 1009."""
    client = await raw_connect(server.port, "/p")
    await client.read_data_frame()
    client.send_frame(OP_TEXT, b"y" * 600, fin=False)
    client.send_frame(0x0, b"y" * 600)
    await expect_close(client, 1009)
    await eventually(lambda: bool(closed(server)))
    assert closed(server)[0][0] == 1009
    await client.close()


async def test_invalid_utf8_text_closes_1007(server: RunningServer) -> None:
    """A text frame that is not UTF-8 closes with 1007, and on_close sees 1007."""
    client = await raw_connect(server.port, "/p")
    await client.read_data_frame()
    client.send_frame(OP_TEXT, b"ok\xff\xfe")
    await expect_close(client, 1007)
    await eventually(lambda: bool(closed(server)))
    assert closed(server) == [(1007, "Invalid UTF-8 text message")]
    await client.close()


CLOSE_HANDLER = """
async def on_connect(conn):
    await conn.send({"id": conn.id})
"""


async def test_a_close_from_another_task_waits_for_the_clients_close_frame(
    project: Path, write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """Defect 6: the admin API closes; TCP stays open until the client's close frame comes."""
    write("hello.py", CLOSE_HANDLER)
    config = {"endpoints": [endpoint("/ws", "hello.py")]}
    async with run_server(config, base_dir=project) as server:
        client = await RawClient.upgrade(server.port, "/ws")
        conn_id = (await client.read_data_frame()).json()["id"]
        async with aiohttp.ClientSession() as session:
            close_url = server.http_url(f"/__mockws/api/connections/{conn_id}/close")
            closing = asyncio.create_task(session.post(close_url, json={"code": 4001}))
            assert await client.read_close() == 4001
            # Not answered yet: no EOF for a while, and the connection is still registered.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(client.reader.read(1), 0.5)
            assert server.hub.get(conn_id) is not None
            client.send_frame(OP_CLOSE, struct.pack("!H", 4001))
            assert await client.at_eof()
            reply = await asyncio.wait_for(closing, 5)
            assert reply.status == 200
            reply.release()
        await eventually(lambda: server.hub.get(conn_id) is None)
