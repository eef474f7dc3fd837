"""The event feed the server publishes to (mockws/observe/events.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mockws.observe import events as events_module
from mockws.observe.events import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    EventBus,
    FaultInjected,
    HandlerFailed,
    MessageIn,
    MessageOut,
    Reloaded,
    RoomJoined,
    RoomLeft,
    event_to_dict,
    http_exchange,
    message_dropped,
    preview,
)
from mockws.testing import run_server
from mockws.wire.frames import Opcode

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint


class Recorder:
    """A subscriber that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(self, kind: type[Event], count: int = 1) -> list[Any]:
        async with asyncio.timeout(2):
            while len(self.of(kind)) < count:
                await asyncio.sleep(0.01)
        return self.of(kind)


def test_bus_flags_follow_subscriptions() -> None:
    """active and wants_messages say whether anyone listens, and unsubscribing clears them."""
    bus = EventBus()
    assert (bus.active, bus.wants_messages) == (False, False)
    stop_lifecycle = bus.subscribe(Recorder(), messages=False)
    assert (bus.active, bus.wants_messages) == (True, False)
    stop_all = bus.subscribe(Recorder())
    assert (bus.active, bus.wants_messages) == (True, True)
    stop_all()
    stop_all()
    assert (bus.active, bus.wants_messages) == (True, False)
    stop_lifecycle()
    assert (bus.active, bus.wants_messages) == (False, False)


def test_message_events_skip_subscribers_that_did_not_ask(caplog: pytest.LogCaptureFixture) -> None:
    """A lifecycle-only subscriber gets no message events; a failing subscriber is logged."""
    bus = EventBus()
    lifecycle, everything = Recorder(), Recorder()

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(lifecycle, messages=False)
    bus.subscribe(broken)
    bus.subscribe(everything)
    message = MessageIn(conn_id="c1", endpoint="/e", size=2, preview="hi")
    joined = RoomJoined(conn_id="c1", room="r")
    bus.publish(message)
    bus.publish(joined)
    assert lifecycle.events == [joined]
    assert everything.events == [message, joined]
    assert "listener bug" in caplog.text


def test_preview_masks_secrets_cuts_text_and_shows_binary_as_hex() -> None:
    """Previews mask secret JSON values, cut long text, and show binary as hex."""
    assert preview(b'{"token":"abc","n":1}', False) == ('{"token":"***","n":1}', False)
    assert preview("x" * 1500, False) == ("x" * 1000, True)
    assert preview(bytes(range(40)), True) == (bytes(range(32)).hex(" "), True)
    assert preview(b"\x01\x02", True) == ("01 02", False)


def test_event_to_dict_names_the_type() -> None:
    """An event's JSON form carries its kind as 'type' and lists for tuples."""
    event = MessageOut(conn_id=None, endpoint=None, size=3, rooms=("a",), recipients=2, time=1.0)
    data = event_to_dict(event)
    assert data["type"] == "out"
    assert data["rooms"] == ["a"]
    assert data["recipients"] == 2
    assert event_to_dict(Reloaded(target="h.py", ok=False, message="boom"))["type"] == "reload"


async def test_server_publishes_the_life_of_a_connection(write: WriteFile) -> None:
    """open, in, out, join, leave and close events describe what a connection did."""
    write("cmd.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/c", "cmd.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as server:
        recorder = Recorder()
        server.hub.events.subscribe(recorder)
        client = await server.connect("/c", query={"token": "s3cret", "page": "2"})
        await command(client, op="join", room="lobby")
        await command(client, op="join", room="lobby")
        await command(client, op="leave", room="lobby")
        await client.send(b"\x00\x01")
        assert await client.receive() == b"\x00\x01"
        await client.close(4000, "bye")
        closed = await recorder.wait_for(ConnectionClosed)

    opened = recorder.of(ConnectionOpened)
    assert [(e.conn_id, e.endpoint) for e in opened] == [("c1", "/c")]
    assert "s3cret" not in opened[0].path and "token=***" in opened[0].path
    assert [e.room for e in recorder.of(RoomJoined)] == ["lobby"]
    assert [e.room for e in recorder.of(RoomLeft)] == ["lobby"]
    incoming = recorder.of(MessageIn)
    assert len(incoming) == 4
    assert incoming[0].preview == '{"op": "join", "room": "lobby"}'
    assert incoming[-1].binary and incoming[-1].size == 2
    outgoing = recorder.of(MessageOut)
    assert [e.conn_id for e in outgoing] == ["c1"] * 4
    assert outgoing[0].preview == '{"ack":"join","result":null}'
    assert (closed[0].code, closed[0].reason) == (4000, "bye")
    assert (closed[0].messages_in, closed[0].messages_out) == (4, 4)


async def test_broadcast_is_one_event_with_its_recipient_count(write: WriteFile) -> None:
    """A broadcast publishes a single MessageOut with the recipient count and rooms."""
    write("cmd.py", COMMAND_HANDLER)
    config = {"endpoints": [endpoint("/c", "cmd.py")]}
    async with run_server(config, base_dir=write("x", "").parent) as server:
        clients = [await server.connect("/c") for _ in range(3)]
        for client in clients:
            await command(client, op="join", room="r")
        recorder = Recorder()
        server.hub.events.subscribe(recorder)
        reached = await server.hub.broadcast({"hello": 1}, rooms=iter(["r"]))
        assert reached == 3
        reached_user = await server.hub.send_to_user("nobody", "x")
        assert reached_user == 0
    broadcasts = recorder.of(MessageOut)
    assert len(broadcasts) == 2
    assert (broadcasts[0].conn_id, broadcasts[0].recipients, broadcasts[0].rooms) == (
        None,
        3,
        ("r",),
    )
    assert (broadcasts[1].user, broadcasts[1].recipients) == ("nobody", 0)


async def test_handler_errors_are_published_with_their_traceback(write: WriteFile) -> None:
    """An exception in on_message becomes a HandlerFailed event naming hook and connection."""
    write("bad.py", "def on_message(conn, data):\n    raise ValueError('nope')\n")
    async with run_server(
        {"endpoints": [endpoint("/b", "bad.py")]}, base_dir=write("x", "").parent
    ) as server:
        recorder = Recorder()
        server.hub.events.subscribe(recorder, messages=False)
        client = await server.connect("/b")
        await client.send("x")
        failed = await recorder.wait_for(HandlerFailed)
    assert failed[0].hook == "on_message"
    assert failed[0].error == "ValueError: nope"
    assert failed[0].conn_id == "c1"
    assert "raise ValueError('nope')" in failed[0].traceback


async def test_nothing_is_built_when_nobody_listens_to_messages(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no message subscriber, sending, receiving and broadcasting build no event."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a message event was built with nobody listening")

    for module in ("hub.connection", "hub.hub", "server.session"):
        for name in ("message_in", "message_out"):
            monkeypatch.setattr(f"mockws.{module}.{name}", forbidden, raising=False)
    assert events_module.message_out is not forbidden
    write("cmd.py", COMMAND_HANDLER)
    async with run_server(
        {"endpoints": [endpoint("/c", "cmd.py")]}, base_dir=write("x", "").parent
    ) as server:
        assert server.hub.events.active and not server.hub.events.wants_messages
        client = await server.connect("/c")
        await client.send({"echo": 1})
        assert await client.receive_json() == {"echo": 1}
        assert await server.hub.broadcast("x") == 1
        assert await client.receive() == "x"


def test_a_dropped_message_is_a_message_event_and_a_fault_is_not() -> None:
    """MessageDropped reaches only subscribers that want messages; FaultInjected reaches all."""
    bus = EventBus()
    lifecycle, everything = Recorder(), Recorder()
    bus.subscribe(lifecycle, messages=False)
    bus.subscribe(everything)
    dropped = message_dropped("c1", "/e", Opcode.TEXT, b'{"password":"hunter2","n":1}')
    fault = FaultInjected(fault="stall", endpoint="/e", conn_id="c1", detail="stopped")
    bus.publish(dropped)
    bus.publish(fault)
    assert lifecycle.events == [fault]
    assert everything.events == [dropped, fault]
    assert "hunter2" not in dropped.preview and dropped.size == 28
    assert event_to_dict(fault)["type"] == "fault" and event_to_dict(dropped)["type"] == "drop"


def test_http_exchange_masks_bodies_and_tells_binary_from_text() -> None:
    """Body previews mask secret keys; non-UTF-8 bytes show as hex; sizes are the whole bodies."""
    event = http_exchange(
        "POST",
        "/api/login?token=***",
        200,
        0.01,
        route="POST /api/login",
        request_body=b'{"user": "ann", "password": "hunter2"}',
        response_body=b"\xff\x00\x01",
        pushed=2,
    )
    assert event.request_preview == '{"user": "ann", "password": "***"}'
    assert event.response_preview == "ff 00 01"
    assert (event.request_size, event.response_size, event.pushed) == (38, 3, 2)
    assert event_to_dict(event)["type"] == "http"
    long_text = ("é" * 2000).encode()
    cut = http_exchange("GET", "/", 200, 0.0, response_body=long_text)
    assert cut.response_preview.endswith(" …") and cut.response_preview.startswith("é")


def test_http_exchanges_reach_message_subscribers_only() -> None:
    """Like messages, HTTP rows go to subscribers that asked for messages."""
    bus = EventBus()
    everything: list[Event] = []
    connections_only: list[Event] = []
    bus.subscribe(everything.append)
    bus.subscribe(connections_only.append, messages=False)
    bus.publish(http_exchange("GET", "/", 204, 0.0))
    assert len(everything) == 1 and connections_only == []


def test_socketio_events_describe_name_arguments_and_ack() -> None:
    """event_in/event_out carry the event name, the arguments as JSON (secrets masked), acks."""
    from mockws.observe.events import event_in, event_out

    inbound = event_in(
        "c1", "/socket.io/", "login", ({"user": "ann", "password": "hunter2"}, b"\x00")
    )
    assert inbound.event == "login" and not inbound.ack
    assert "hunter2" not in inbound.preview and "<binary 1 bytes>" in inbound.preview
    out = event_out("c1", "/socket.io/", "login", ("ok",), ack=True)
    assert (out.event, out.ack, out.preview, out.recipients) == ("login", True, '["ok"]', 1)
    assert event_to_dict(out)["event"] == "login"
