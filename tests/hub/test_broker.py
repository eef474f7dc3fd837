"""The broker seam: InProcessBroker, and what a Broker sees of a server (mockws/hub/broker.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockws.hub.broker import InProcessBroker, LocalDelivery, Publication
from mockws.hub.hub import Hub
from mockws.testing import run_server
from mockws.wire.frames import Opcode

from ..helpers import COMMAND_HANDLER, WriteFile, command, endpoint, eventually


class RecordingBroker:
    """A Broker that records every call and delivers publications locally."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.publications: list[Publication] = []
        self.local: LocalDelivery | None = None

    def attach(self, local: LocalDelivery) -> None:
        self.local = local
        self.calls.append(("attach",))

    def publish(self, publication: Publication) -> int:
        self.publications.append(publication)
        assert self.local is not None
        return self.local.deliver(publication)

    def joined(self, conn_id: str, room: str) -> None:
        self.calls.append(("joined", conn_id, room))

    def left(self, conn_id: str, room: str) -> None:
        self.calls.append(("left", conn_id, room))

    def registered(self, conn_id: str, endpoint: str) -> None:
        self.calls.append(("registered", conn_id, endpoint))

    def user_set(self, conn_id: str, user: str | None) -> None:
        self.calls.append(("user_set", conn_id, user))

    def unregistered(self, conn_id: str) -> None:
        self.calls.append(("unregistered", conn_id))

    async def start(self) -> None:
        self.calls.append(("start",))

    async def stop(self) -> None:
        self.calls.append(("stop",))


class CountingDelivery:
    """A LocalDelivery that records what it is given and reports a fixed count."""

    def __init__(self, reached: int) -> None:
        self.reached = reached
        self.delivered: list[Publication] = []

    def deliver(self, publication: Publication) -> int:
        self.delivered.append(publication)
        return self.reached


def serving(project: Path, broker: RecordingBroker) -> Any:
    """A COMMAND_HANDLER server on /a and /b whose hub uses ``broker``."""
    config = {"endpoints": [endpoint("/a", "commands.py"), endpoint("/b", "commands.py")]}
    return run_server(config, base_dir=project, broker=broker)


@pytest.fixture
def project(write: WriteFile) -> Path:
    return write("commands.py", COMMAND_HANDLER).parent


def test_in_process_publish_goes_to_the_attached_delivery() -> None:
    """InProcessBroker.publish hands the same publication to its delivery and returns its count."""
    broker, local = InProcessBroker(), CountingDelivery(reached=3)
    broker.attach(local)
    publication = Publication(Opcode.TEXT, b"{}", rooms=("r",))
    assert broker.publish(publication) == 3
    assert local.delivered == [publication]
    assert local.delivered[0] is publication


def test_publish_before_attach_raises() -> None:
    """An InProcessBroker that no hub attached refuses to publish, naming the fix."""
    with pytest.raises(RuntimeError, match="before attach"):
        InProcessBroker().publish(Publication(Opcode.TEXT, b"x"))


def test_hub_attaches_itself_to_its_broker() -> None:
    """Hub() uses an InProcessBroker by default, and a given broker is attached to the hub."""
    assert isinstance(Hub().broker, InProcessBroker)
    broker = RecordingBroker()
    hub = Hub(broker=broker)
    assert hub.broker is broker
    assert broker.local is hub
    assert broker.calls == [("attach",)]


async def test_in_process_broker_delivers_through_the_hub(project: Path) -> None:
    """A publication given to a server's InProcessBroker reaches the hub's matching connections."""
    async with run_server({"endpoints": [endpoint("/a", "commands.py")]}, base_dir=project) as srv:
        member, outsider = await srv.connect("/a"), await srv.connect("/a")
        await command(member, op="join", room="r")
        broker = srv.hub.broker
        assert isinstance(broker, InProcessBroker)
        assert broker.publish(Publication(Opcode.TEXT, b'{"to":"r"}', rooms=("r",))) == 1
        assert await member.receive_json() == {"to": "r"}
        await outsider.expect_no_message()


async def test_broker_sees_membership_in_lifecycle_order(project: Path) -> None:
    """registered, joined, left, unregistered reach the broker in order, between start and stop."""
    broker = RecordingBroker()
    async with serving(project, broker) as server:
        assert broker.calls == [("attach",), ("start",)]
        client = await server.connect("/a")
        conn_id = (await command(client, op="info"))["id"]  # type: ignore[index]
        await command(client, op="join", room="r")
        await command(client, op="join", room="r")
        await command(client, op="join", room="s")
        await command(client, op="leave", room="r")
        await client.close()
        await eventually(lambda: ("unregistered", conn_id) in broker.calls)
    assert broker.calls == [
        ("attach",),
        ("start",),
        ("registered", conn_id, "/a"),
        ("joined", conn_id, "r"),
        ("joined", conn_id, "s"),
        ("left", conn_id, "r"),
        ("left", conn_id, "s"),
        ("unregistered", conn_id),
        ("stop",),
    ]


async def test_broadcasts_publish_with_their_filters(project: Path) -> None:
    """Each kind of broadcast reaches the broker as one Publication carrying its filters."""
    broker = RecordingBroker()
    async with serving(project, broker) as server:
        ann, bob = await server.connect("/a"), await server.connect("/a")
        ann_id = (await command(ann, op="info"))["id"]  # type: ignore[index]
        bob_id = (await command(bob, op="info"))["id"]  # type: ignore[index]
        await command(bob, op="set_user", user="u1")
        await command(bob, op="join", room="r1")

        assert await command(ann, op="broadcast", data={"n": 1}, rooms=["r1", "r2"]) == 1
        assert await command(ann, op="broadcast", data="e") == 1
        assert (
            await command(ann, op="hub_broadcast", data=[2], exclude=[bob_id], endpoint="/b") == 0
        )
        assert await command(ann, op="send_to_user", user="u1", data="hi") == 1

    text = Opcode.TEXT
    assert broker.publications == [
        Publication(text, b'{"n":1}', rooms=("r1", "r2"), exclude=frozenset({ann_id})),
        Publication(text, b"e", endpoint="/a", exclude=frozenset({ann_id})),
        Publication(text, b"[2]", endpoint="/b", exclude=frozenset({bob_id})),
        Publication(text, b"hi", user="u1"),
    ]
