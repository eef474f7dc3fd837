"""Connection and endpoint faults as the hub runs them (mockws/hub/faults.py), over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import websockets

from mockws.config.faults import DisconnectFault, FaultsConfig, RefuseFault, Trigger
from mockws.hub.faults import EndpointFaults, check_codes
from mockws.observe.events import EventBus, FaultInjected
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, eventually

FLOOD = """
async def on_message(conn, data):
    for n in range(data["flood"]):
        await conn.send({"n": n})
"""


@pytest.fixture
def base(write: WriteFile) -> Path:
    return write("flood.py", FLOOD).parent


def test_check_codes_refuses_codes_that_may_not_be_sent() -> None:
    """1005 and 1006 are never sent; 1011 and 4000 are."""
    for code in (1005, 1006, 1015, 2000):
        with pytest.raises(ValueError, match="may not be sent"):
            check_codes(FaultsConfig(disconnect=DisconnectFault(Trigger(messages=1), code=code)))
    check_codes(FaultsConfig(disconnect=DisconnectFault(Trigger(messages=1), code=4000)))
    check_codes(None)


def test_refusals_count_down_and_are_reported() -> None:
    """refuse next 2: two statuses, then None; each refusal is a FaultInjected event."""
    events: list[object] = []
    bus = EventBus()
    bus.subscribe(events.append)
    faults = EndpointFaults("/ws", FaultsConfig(refuse=RefuseFault(next=2, status=429)), print)
    assert [faults.refusal(bus) for _ in range(3)] == [429, 429, None]
    assert [e.detail for e in events if isinstance(e, FaultInjected)] == [
        "refused a handshake with HTTP 429 (1 more to refuse)",
        "refused a handshake with HTTP 429 (0 more to refuse)",
    ]
    faults.replace(FaultsConfig(refuse=RefuseFault(next=1)), ())
    assert faults.refusal(bus) == 503 and faults.refusals_left == 0


async def lost(url: str) -> set[int]:
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"flood": 300}))
        got: list[int] = []
        while True:
            try:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 0.4))["n"])
            except TimeoutError:
                return set(range(300)) - set(got)


async def test_each_connection_draws_from_its_own_seed(base: Path) -> None:
    """The n-th connection of a seeded endpoint loses the same messages on every run."""
    config = {"endpoints": [endpoint("/ws", "flood.py", faults={"drop": 0.5, "seed": 3})]}
    runs = []
    for _ in range(2):
        async with run_server(config, base_dir=base) as server:
            runs.append([await lost(server.url("/ws")) for _ in range(2)])
    assert runs[0] == runs[1]
    assert runs[0][0] != runs[0][1]


async def test_a_stalled_connection_stays_stalled_and_closes_at_once(base: Path) -> None:
    """Removing the faults does not unstall; closing a stalled connection does not wait."""
    async with run_server({"endpoints": [endpoint("/ws", "flood.py")]}, base_dir=base) as server:
        async with websockets.connect(server.url("/ws"), ping_interval=None) as ws:
            await eventually(lambda: len(server.hub.connections) == 1)
            conn = next(iter(server.hub.connections.values()))
            await server.fault(conn, stall=True)
            server.set_faults("/ws", None)
            assert conn.faults is not None and conn.faults.stalled
            await ws.send(json.dumps({"flood": 1}))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)
            started = time.monotonic()
            await conn.close(1000)
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 3)
            assert time.monotonic() - started < 1.0


async def test_a_connection_whose_faults_are_all_removed_is_back_on_the_free_path(
    base: Path,
) -> None:
    """latency 0 after a latency, or an endpoint's faults cleared, leaves no faults behind."""
    config = {"endpoints": [endpoint("/ws", "flood.py", faults={"drop": 0.1})]}
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/ws")
        conn = next(iter(server.hub.connections.values()))
        assert conn.faults is not None and conn.faults.describe() == "drop 10%"
        server.set_faults("/ws", None)
        assert conn.faults is None
        assert await server.fault(conn, latency="50ms") == ["latency 50ms"]
        assert conn.faults is not None and conn.faults.describe() == "latency 50ms"
        assert await server.fault(conn, latency=0) == ["no latency"]
        assert conn.faults is None
        await client.send({"flood": 1})
        assert await client.receive_json() == {"n": 0}
