"""The inspector's live event feed (mockws/admin/feed.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from mockws.events import Reloaded
from mockws.testing import RunningServer, run_server

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint


async def next_json(feed: aiohttp.ClientWebSocketResponse) -> Any:
    return json.loads(await asyncio.wait_for(feed.receive_str(), 5))


async def collect(feed: aiohttp.ClientWebSocketResponse, *types: str) -> dict[str, Any]:
    """Read event batches until one event of each type arrived; return them by type."""
    found: dict[str, Any] = {}
    async with asyncio.timeout(5):
        while not set(types) <= set(found):
            message = await next_json(feed)
            if message["type"] == "events":
                for event in message["events"]:
                    found.setdefault(event["type"], event)
    return found


async def open_feed(
    server: RunningServer, http: aiohttp.ClientSession
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(f"http://127.0.0.1:{server.port}/__mockws/feed")


async def test_feed_starts_with_a_snapshot_then_streams_events(write: WriteFile) -> None:
    """The feed sends the current state, then open, in, out, join, error, reload and close."""
    write("cmd.py", COMMAND_HANDLER + "\n\ndef on_error(conn, error):\n    pass\n")
    config = {"endpoints": [endpoint("/cmd", "cmd.py")]}
    async with (
        run_server(config, base_dir=write("x", "").parent) as server,
        aiohttp.ClientSession() as http,
    ):
        early = await server.connect("/cmd", query={"token": "s3cret"})
        await command(early, op="join", room="lobby")
        feed = await open_feed(server, http)
        snapshot = await next_json(feed)
        assert snapshot["type"] == "snapshot"
        assert [c["path"] for c in snapshot["connections"]] == ["/cmd?token=***"]
        assert snapshot["rooms"] == [{"name": "lobby", "members": ["c1"]}]
        assert snapshot["server"]["endpoints"][0]["url"] == server.url("/cmd")

        client = await server.connect("/cmd")
        await command(client, op="join", room="lobby")
        await client.send({"op": "join", "room": ""})
        server.hub.events.publish(Reloaded(target="cmd.py", message="2 hooks changed"))
        await client.close()
        events = await collect(feed, "open", "in", "out", "join", "error", "reload", "close")
        assert events["open"]["conn_id"] == "c2"
        assert events["in"]["preview"] == '{"op": "join", "room": "lobby"}'
        assert events["out"]["preview"] == '{"ack":"join","result":null}'
        assert events["join"] == {**events["join"], "conn_id": "c2", "room": "lobby"}
        assert events["error"]["hook"] == "on_message" and "ValueError" in events["error"]["error"]
        assert events["reload"]["message"] == "2 hooks changed"
        assert events["close"]["code"] == 1000
        await feed.close()


async def test_counters_report_message_counts_every_second(write: WriteFile) -> None:
    """Each second the feed sends every connection's message counts and user."""
    write("cmd.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/cmd", "cmd.py")]}
    async with (
        run_server(config, base_dir=write("x", "").parent) as server,
        aiohttp.ClientSession() as http,
    ):
        client = await server.connect("/cmd")
        await command(client, op="set_user", user="ada")
        feed = await open_feed(server, http)
        async with asyncio.timeout(3):
            while (message := await next_json(feed))["type"] != "counters":
                pass
        assert message["connections"]["c1"] == {
            "messages_in": 1,
            "messages_out": 1,
            "user": "ada",
            "dropped": 0,
        }
        await feed.close()


async def test_stopping_the_server_closes_open_feeds_at_once(write: WriteFile) -> None:
    """An open inspector does not hold up shutdown: its feed closes with 1001."""
    write("h.py", "")
    async with aiohttp.ClientSession() as http:
        async with run_server(
            {"endpoints": [endpoint("/h", "h.py")]}, base_dir=write("x", "").parent
        ) as server:
            feed = await open_feed(server, http)
            assert (await next_json(feed))["type"] == "snapshot"
            assert server.hub.events.wants_messages
            started = asyncio.get_running_loop().time()
        assert asyncio.get_running_loop().time() - started < 2.0
        message = await asyncio.wait_for(feed.receive(), 2)
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)


async def test_closing_the_page_unsubscribes(write: WriteFile) -> None:
    """When the last feed closes, the server stops building message events."""
    write("h.py", "")
    async with (
        run_server(
            {"endpoints": [endpoint("/h", "h.py")]}, base_dir=write("x", "").parent
        ) as server,
        aiohttp.ClientSession() as http,
    ):
        feed = await open_feed(server, http)
        await next_json(feed)
        assert server.hub.events.wants_messages
        await feed.close()
        async with asyncio.timeout(2):
            while server.hub.events.wants_messages:
                await asyncio.sleep(0.01)
