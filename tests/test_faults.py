"""Network faults over real sockets, seen by the ``websockets`` client (docs/faults.md)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from mockws.config.load import config_from_mapping
from mockws.observe.events import Event, FaultInjected, MessageDropped
from mockws.testing import RunningServer, run_server

from .helpers import WriteFile, endpoint, eventually

# Sends `count` numbered messages when asked; echoes anything else.
FLOOD_HANDLER = """
async def on_message(conn, data):
    if isinstance(data, dict) and "flood" in data:
        for n in range(data["flood"]):
            await conn.send({"n": n})
    elif isinstance(data, dict) and "fan" in data:
        for n in range(data["fan"]):
            await conn.broadcast({"n": n}, include_self=True)
    else:
        await conn.send(data)
"""


def faulty(faults: dict[str, Any] | None, **options: Any) -> dict[str, Any]:
    """A config with /ws/flood (with ``faults``) and /ws/plain (without)."""
    flood = endpoint("/ws/flood", "flood.py", **options)
    if faults is not None:
        flood["faults"] = faults
    return {"endpoints": [flood, endpoint("/ws/plain", "flood.py")]}


@pytest.fixture
def base(write: WriteFile) -> Path:
    return write("flood.py", FLOOD_HANDLER).parent


async def collect(socket: Any, *, quiet: float = 0.5, limit: float = 10.0) -> list[int]:
    """Receive numbered messages until ``quiet`` seconds pass without one, or the close."""
    received: list[int] = []
    async with asyncio.timeout(limit):
        while True:
            try:
                text = await asyncio.wait_for(socket.recv(), quiet)
            except (TimeoutError, ConnectionClosed):
                return received
            received.append(json.loads(text)["n"])


def recorder(server: RunningServer) -> list[Event]:
    events: list[Event] = []
    server.hub.events.subscribe(events.append)
    return events


async def test_latency_delays_every_message_by_at_least_the_configured_time(base: Path) -> None:
    """A fixed latency: an echo comes back no sooner than the latency after it was sent."""
    async with run_server(faulty({"latency": "150ms"}), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            for _ in range(3):
                started = time.monotonic()
                await ws.send("hello")
                assert await asyncio.wait_for(ws.recv(), 5) == "hello"
                assert time.monotonic() - started >= 0.15
        async with websockets.connect(server.url("/ws/plain")) as ws:
            started = time.monotonic()
            await ws.send("hello")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started < 0.15, "the endpoint without faults is delayed"


async def test_a_latency_range_keeps_the_order_of_1000_messages(base: Path) -> None:
    """With a jittered latency, 1,000 messages arrive whole and in order, after the low end."""
    async with run_server(faulty({"latency": ["20ms", "80ms"]}), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            started = time.monotonic()
            await ws.send(json.dumps({"flood": 1000}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))["n"]
            assert time.monotonic() - started >= 0.02
            rest = await collect(ws, quiet=0.5)
    assert [first, *rest] == list(range(1000))


async def test_latency_applies_to_broadcasts_too(base: Path) -> None:
    """A broadcast's share for a connection with latency passes the same seam."""
    async with run_server(faulty({"latency": "120ms"}), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            started = time.monotonic()
            await ws.send(json.dumps({"fan": 5}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"n": 0}
            assert time.monotonic() - started >= 0.12
            assert await collect(ws, quiet=0.4) == [1, 2, 3, 4]


async def lost_with_seed(base: Path, seed: int, drop: float = 0.3) -> set[int]:
    async with run_server(faulty({"drop": drop, "seed": seed}), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send(json.dumps({"flood": 1000}))
            received = await collect(ws, quiet=0.5)
    assert received == sorted(received)
    return set(range(1000)) - set(received)


async def test_a_seeded_drop_loses_the_same_messages_on_every_run(base: Path) -> None:
    """drop 0.3, seeded: two runs lose the same messages, about 30%; another seed differs."""
    first = await lost_with_seed(base, 7)
    second = await lost_with_seed(base, 7)
    other = await lost_with_seed(base, 8)
    assert first == second
    # Binomial(1000, 0.3): mean 300, sd 14.5; 5 sd either side.
    assert 228 <= len(first) <= 372, len(first)
    assert first != other


async def test_disconnect_after_n_messages_sends_exactly_n_then_the_close_code(base: Path) -> None:
    """disconnect {after: 20, code: 1011}: 20 of 50 messages arrive, then a 1011 close frame."""
    faults = {"disconnect": {"after": 20, "code": 1011, "reason": "chaos"}}
    async with run_server(faulty(faults), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send(json.dumps({"flood": 50}))
            received = await collect(ws, quiet=1.0)
            assert ws.close_code == 1011
            assert ws.close_reason == "chaos"
    assert received == list(range(20))


async def test_disconnect_after_n_with_abort_sends_n_then_resets(base: Path) -> None:
    """code: abort: the N messages arrive, then the TCP connection drops with no close frame."""
    faults = {"disconnect": {"after": 5, "code": "abort"}}
    async with run_server(faulty(faults), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send(json.dumps({"flood": 50}))
            received: list[int] = []
            with pytest.raises(ConnectionClosed):
                async with asyncio.timeout(5):
                    while True:
                        received.append(json.loads(await ws.recv())["n"])
            assert ws.protocol.close_rcvd is None, "a close frame arrived: not an abort"
    assert received == list(range(5))


async def test_disconnect_after_a_duration(base: Path) -> None:
    """disconnect {after: 300ms, code: 4000}: the close comes after the time, not before."""
    faults = {"disconnect": {"after": "300ms", "code": 4000}}
    async with run_server(faulty(faults), base_dir=base) as server:
        started = time.monotonic()
        async with websockets.connect(server.url("/ws/flood")) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 4000
        assert time.monotonic() - started >= 0.3


async def test_refuse_fails_the_next_n_upgrades_with_the_status_then_accepts(base: Path) -> None:
    """refuse {next: 2, status: 503}: two handshakes get 503, the third connects."""
    async with run_server(faulty({"refuse": {"next": 2, "status": 503}}), base_dir=base) as server:
        events = recorder(server)
        for _ in range(2):
            with pytest.raises(InvalidStatus) as refused:
                await websockets.connect(server.url("/ws/flood"))
            assert refused.value.response.status_code == 503
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"
        async with websockets.connect(server.url("/ws/plain")):
            pass
    refusals = [e for e in events if isinstance(e, FaultInjected) and e.fault == "refuse"]
    assert len(refusals) == 2 and refusals[-1].endpoint == "/ws/flood"


async def stalled_client_gives_up(server: RunningServer, stall: Callable[[], Any]) -> float:
    """Connect with a client heartbeat, stall the server side, return how long detection took."""
    async with websockets.connect(
        server.url("/ws/flood"), ping_interval=0.2, ping_timeout=0.4
    ) as ws:
        # The heartbeat is answered while the server is well: the connection survives it.
        await asyncio.sleep(0.7)
        await ws.send("alive?")
        assert await asyncio.wait_for(ws.recv(), 5) == "alive?"
        started = time.monotonic()
        await stall()
        await ws.send("anyone?")
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        took = time.monotonic() - started
        assert closed.value.rcvd is None, "a stalled server sent a close frame"
        assert closed.value.sent is not None
        assert (closed.value.sent.code, closed.value.sent.reason) == (
            1011,
            "keepalive ping timeout",
        )
        return took


async def test_stall_is_detected_by_the_client_ping_timeout(base: Path) -> None:
    """A run-time stall: no echo, no pong; the client's heartbeat gives up within its timeout."""
    async with run_server(faulty(None), base_dir=base) as server:
        events = recorder(server)

        async def stall() -> None:
            conn_id = next(iter(server.hub.connections))
            assert await server.fault(conn_id, stall=True) == ["stall"]

        took = await stalled_client_gives_up(server, stall)
        assert took < 3.0
        await eventually(lambda: not server.hub.connections, timeout=5)
    assert any(isinstance(e, FaultInjected) and e.fault == "stall" for e in events)


async def test_configured_stall_after_a_duration(base: Path) -> None:
    """stall {after: 1s}: answered at first, then the heartbeat notices the silence."""
    async with run_server(faulty({"stall": {"after": "1s"}}), base_dir=base) as server:
        await stalled_client_gives_up(server, lambda: asyncio.sleep(0.35))


async def test_stall_also_silences_the_server_heartbeat(base: Path) -> None:
    """With the endpoint's heartbeat on, a stalled connection sends no ping and stays open."""
    async with run_server(faulty({"stall": True}, heartbeat=0.2), base_dir=base) as server:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(server.url("/ws/flood"), autoping=False) as ws:
                with pytest.raises(TimeoutError):
                    await ws.receive(timeout=1.0)
                assert not ws.closed
                assert len(server.hub.connections) == 1


async def test_abort_drops_the_connection_with_no_close_frame(base: Path) -> None:
    """A run-time abort: TCP ends with no close frame; the server records 1006."""
    async with run_server(faulty(None), base_dir=base) as server:
        events = recorder(server)
        async with websockets.connect(server.url("/ws/plain")) as ws:
            await ws.send("x")
            await ws.recv()
            conn_id = next(iter(server.hub.connections))
            assert await server.fault(conn_id, abort=True) == ["abort"]
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.protocol.close_rcvd is None
        await eventually(lambda: not server.hub.connections)
    closed = [e for e in events if e.kind == "close"]
    assert closed and closed[-1].code == 1006  # type: ignore[attr-defined]
    assert any(isinstance(e, FaultInjected) and e.fault == "abort" for e in events)


async def test_run_time_close_and_latency_on_one_connection(base: Path) -> None:
    """fault(latency=...) delays only that connection; fault(close=1012) closes it with 1012."""
    async with run_server(faulty(None), base_dir=base) as server:
        async with (
            websockets.connect(server.url("/ws/plain")) as slow,
            websockets.connect(server.url("/ws/plain")) as fast,
        ):
            await slow.send("a")
            await slow.recv()
            await fast.send("a")
            await fast.recv()
            slow_id, fast_id = sorted(server.hub.connections, key=lambda c: int(c[1:]))
            await server.fault(slow_id, latency="200ms")
            for ws, minimum, maximum in ((slow, 0.2, 5.0), (fast, 0.0, 0.2)):
                started = time.monotonic()
                await ws.send("b")
                assert await asyncio.wait_for(ws.recv(), 5) == "b"
                assert minimum <= time.monotonic() - started < maximum
            await server.fault(slow_id, latency=0)
            started = time.monotonic()
            await slow.send("c")
            await asyncio.wait_for(slow.recv(), 5)
            assert time.monotonic() - started < 0.2
            await server.fault(fast_id, close=(1012, "restart"))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(fast.recv(), 5)
            assert fast.close_code == 1012 and fast.close_reason == "restart"


async def test_set_faults_applies_to_open_and_new_connections_until_the_config_changes(
    base: Path,
) -> None:
    """set_faults replaces an endpoint's faults; an edit of that endpoint's config ends it."""
    async with run_server(faulty(None), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            server.set_faults("/ws/flood", {"latency": "200ms"})
            started = time.monotonic()
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started >= 0.2
            # An edit of another endpoint leaves the run-time faults in place.
            edited = faulty(None)
            edited["endpoints"][1]["heartbeat"] = 30
            await server.server.apply_config(config_from_mapping(edited, base_dir=base))
            started = time.monotonic()
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started >= 0.2
            # An edit of this endpoint ends them: its config says no faults.
            edited["endpoints"][0]["heartbeat"] = 30
            await server.server.apply_config(config_from_mapping(edited, base_dir=base))
            started = time.monotonic()
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started < 0.2
            server.set_faults("/ws/flood", None)
        with pytest.raises(KeyError):
            server.set_faults("/ws/nope", {"drop": 0.5})


async def test_faults_hot_reload_with_the_config(base: Path) -> None:
    """A config edit that adds faults to an endpoint applies them to its open connections."""
    async with run_server(faulty(None), base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send("x")
            await ws.recv()
            edited = faulty({"latency": "200ms"})
            change = await server.server.apply_config(config_from_mapping(edited, base_dir=base))
            assert change.changed == ("/ws/flood",) and change.closed == 0
            started = time.monotonic()
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started >= 0.2


async def test_drops_and_faults_are_events_and_log_lines(
    base: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With --log-messages, a drop logs its message; a stall and an abort log a fault line."""
    caplog.set_level(logging.INFO, logger="mockws")
    async with run_server(faulty({"drop": 1.0}), base_dir=base, log_messages=True) as server:
        events = recorder(server)
        async with websockets.connect(server.url("/ws/flood")) as ws:
            await ws.send(json.dumps({"flood": 2}))
            await eventually(lambda: sum(isinstance(e, MessageDropped) for e in events) == 2)
            conn_id = next(iter(server.hub.connections))
            await server.fault(conn_id, stall=True)
            await server.fault(conn_id, abort=True)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("✗ c1 /ws/flood") and '{"n":1}' in line for line in lines), lines
    assert any(line.startswith("c1 fault: stall") for line in lines), lines
    assert any(line.startswith("c1 fault: abort: TCP reset") for line in lines), lines


async def admin(server: RunningServer, path: str, body: object) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.http_url(f"/__mockws/api/{path}"), json=body) as reply:
            return reply.status, await reply.json()


async def test_admin_api_injects_faults(base: Path) -> None:
    """POST connections/{id}/fault and endpoints/faults inject faults; bad input is a 4xx."""
    async with run_server(faulty(None), base_dir=base) as server:
        status, reply = await admin(
            server, "endpoints/faults", {"endpoint": "/ws/flood", "faults": {"refuse": 1}}
        )
        assert (status, reply["faults"]) == (200, "refuse next 1 with 503")
        with pytest.raises(InvalidStatus):
            await websockets.connect(server.url("/ws/flood"))
        async with websockets.connect(server.url("/ws/flood")) as ws:
            conn_id = next(iter(server.hub.connections))
            body = {"latency": "200ms"}
            status, reply = await admin(server, f"connections/{conn_id}/fault", body)
            assert (status, reply["done"]) == (200, ["latency 200ms"])
            started = time.monotonic()
            await ws.send("x")
            await asyncio.wait_for(ws.recv(), 5)
            assert time.monotonic() - started >= 0.2
            status, reply = await admin(
                server, f"connections/{conn_id}/fault", {"close": {"code": 1012}}
            )
            assert status == 200
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1012
        bad = [
            ("connections/c99/fault", {"abort": True}, 404, "no open connection"),
            ("endpoints/faults", {"endpoint": "/nope", "faults": {}}, 400, "no endpoint"),
            ("endpoints/faults", {"faults": {}}, 400, "missing 'endpoint'"),
            (
                "endpoints/faults",
                {"endpoint": "/ws/flood", "faults": {"drop": 7}},
                400,
                "faults.drop: expected a probability",
            ),
            (
                "endpoints/faults",
                {"endpoint": "/ws/flood", "faults": {"disconnect": {"after": 1, "code": 1005}}},
                400,
                "may not be sent",
            ),
        ]
        for path, body, want_status, want_error in bad:
            status, reply = await admin(server, path, body)
            assert status == want_status and want_error in reply["error"], (path, reply)
        async with websockets.connect(server.url("/ws/plain")):
            conn_id = next(iter(server.hub.connections))
            for body, want_error in (
                ({}, "name a fault"),
                ({"abort": True, "close": 1000}, "exclude each other"),
                ({"close": {"code": 1006}}, "may not be sent"),
                ({"latency": "fast"}, "fault.latency"),
            ):
                status, reply = await admin(server, f"connections/{conn_id}/fault", body)
                assert status == 400 and want_error in reply["error"], (body, reply)
            status, reply = await admin(server, f"connections/{conn_id}/fault", {"abort": True})
            assert (status, reply["done"]) == (200, ["abort"])


async def test_drops_and_latency_keep_a_compressed_stream_readable(base: Path) -> None:
    """With permessage-deflate, lost and delayed messages leave the client's inflater in step."""
    faults = {"drop": 0.3, "seed": 11, "latency": ["1ms", "10ms"]}
    config = faulty(faults, compression={"enabled": True, "threshold": 0})
    async with run_server(config, base_dir=base) as server:
        async with websockets.connect(server.url("/ws/flood"), compression="deflate") as ws:
            await ws.send(json.dumps({"flood": 300}))
            received = await collect(ws, quiet=0.5)
            server.set_faults("/ws/flood", None)
            await ws.send("x" * 500)
            assert await asyncio.wait_for(ws.recv(), 5) == "x" * 500
    assert received == sorted(received) and 150 <= len(received) <= 260
