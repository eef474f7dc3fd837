"""The JWT-protected, compressed /ws/notifications endpoint of config.example.yaml."""

from __future__ import annotations

import json
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

import handlers.notifications as notifications
from mockws.cli import main
from mockws.testing import RunningServer, run_server

from .helpers import EXAMPLE_CONFIG
from .rawws import DEFLATE_TAIL, OP_TEXT, RawClient, raw_connect

OFFER = {"Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"}


def token_for(user: str) -> str:
    """Run the README's `mockws token` command and take the token out of the printed URL."""
    result = CliRunner().invoke(
        main,
        ["token", "--config", str(EXAMPLE_CONFIG), "--endpoint", "/ws/notifications"]
        + ["--sub", user, "--claim", "role=admin"],
    )
    assert result.exit_code == 0, result.output
    url = result.stdout.splitlines()[1]
    assert url.startswith("ws://127.0.0.1:8765/ws/notifications?token=")
    return parse_qs(urlsplit(url).query)["token"][0]


async def connect(server: RunningServer, user: str) -> RawClient:
    client = await raw_connect(server.port, f"/ws/notifications?token={token_for(user)}", OFFER)
    assert client.status == 101
    return client


def send(client: RawClient, **message: object) -> None:
    client.send_frame(OP_TEXT, json.dumps(message).encode())


@pytest.fixture(autouse=True)
def default_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the config's fallback secret, whatever the environment says."""
    monkeypatch.delenv("MOCKWS_JWT_SECRET", raising=False)


async def test_notifications_flow_with_compression() -> None:
    """Hello and acks go plain; the history goes compressed; notify reaches the other user."""
    async with run_server(EXAMPLE_CONFIG) as server:
        alice = await connect(server, "alice")
        bob = await connect(server, "bob")
        hello = await alice.read_data_frame()
        assert not hello.rsv1
        assert json.loads(hello.payload) == {
            "type": "hello",
            "user": "alice",
            "role": "admin",
            "unread": 3,
        }
        send(alice, type="history")
        history = await alice.read_data_frame()
        assert history.rsv1 and len(history.payload) < 1024
        items = json.loads(zlib.decompressobj(-15).decompress(history.payload + DEFLATE_TAIL))
        assert len(items["items"]) == 40
        send(alice, type="read", id=2)
        ack = await alice.read_data_frame()
        assert not ack.rsv1 and json.loads(ack.payload) == {"type": "read", "id": 2, "unread": 2}
        await bob.read_data_frame()
        send(alice, type="notify", to="bob", text="lunch?")
        assert json.loads((await bob.read_data_frame()).payload) == {
            "type": "notification",
            "from": "alice",
            "text": "lunch?",
        }
        sent = json.loads((await alice.read_data_frame()).payload)
        assert sent == {"type": "sent", "to": "bob", "reached": 1}
        await alice.close()
        await bob.close()


async def test_without_token_refused_and_background_pushes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No token closes with 4001; a signed-in client gets the periodic CI notifications."""
    monkeypatch.setattr(notifications, "INTERVAL", 0.05)
    async with run_server(EXAMPLE_CONFIG) as server:
        anonymous = await server.connect("/ws/notifications")
        assert await anonymous.expect_close() == (4001, "No token provided")
        client = await server.connect("/ws/notifications", query={"token": token_for("carol")})
        assert (await client.receive_json())["type"] == "hello"
        first = await client.receive_json()
        second = await client.receive_json()
        assert first["from"] == second["from"] == "ci" and first["text"] != second["text"]
