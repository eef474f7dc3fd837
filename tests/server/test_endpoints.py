"""Endpoints: message stages, masking, and loading from a config (mockws/server/endpoints.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from mockws.auth.base import Authenticator
from mockws.config.load import config_from_mapping
from mockws.config.model import Config, EndpointConfig
from mockws.errors import ConfigError
from mockws.hooks.loader import HandlerSlot
from mockws.hooks.pipeline import handler_stage, run_pipeline
from mockws.hooks.timer import HookTimer
from mockws.hub.connection import Connection
from mockws.server.endpoints import Endpoint, load_endpoints
from mockws.testing import run_server

from ..helpers import WriteFile, endpoint, eventually, handler_module

RECORDING_HANDLER = """
SEEN = []

async def on_message(conn, data):
    SEEN.append(data)
    await conn.send({"handler": data})
"""


def recording_slot() -> tuple[HandlerSlot, list[Any]]:
    """A handler slot whose module's on_message records what it gets."""
    seen: list[Any] = []
    module = ModuleType("recording")

    async def on_message(conn: object, data: Any) -> None:
        seen.append(data)

    module.on_message = on_message  # type: ignore[attr-defined]
    return HandlerSlot("recording.py", module, HookTimer(None)), seen


class QueryParamAuth(Authenticator):
    query_param = "pass_code"


async def test_default_stages_end_in_on_message() -> None:
    """An Endpoint built without stages has one, which hands every message to on_message."""
    slot, seen = recording_slot()
    built = Endpoint(EndpointConfig("/a", "recording.py"), slot)
    assert len(built.stages) == 1
    conn: Any = SimpleNamespace(id="c1")
    assert await built.stages[0](conn, {"n": 1}) is True
    await run_pipeline(built.stages, conn, "two")
    assert seen == [{"n": 1}, "two"]


async def test_given_stages_are_kept_in_order() -> None:
    """Stages given to Endpoint run in order; one that handles a message stops it there."""
    slot, seen = recording_slot()
    offered: list[Any] = []

    async def answers_pings(conn: Connection, data: Any) -> bool:
        offered.append(data)
        return data == "ping"

    stages = (answers_pings, handler_stage(slot))
    built = Endpoint(EndpointConfig("/a", "recording.py"), slot, stages=stages)
    assert built.stages == stages
    conn: Any = SimpleNamespace(id="c1")
    for data in ("ping", "hello"):
        await run_pipeline(built.stages, conn, data)
    assert offered == ["ping", "hello"]
    assert seen == ["hello"]


async def test_a_stage_before_the_handler_answers_or_passes_on(write: WriteFile) -> None:
    """A stage added to a running endpoint answers its messages; on_message gets the rest."""
    write("recording.py", RECORDING_HANDLER)
    config = {"endpoints": [endpoint("/a", "recording.py")]}
    async with run_server(config, base_dir=write("x.txt", "").parent) as server:

        async def answers_pings(conn: Connection, data: Any) -> bool:
            if data != "ping":
                return False
            await conn.send("pong from the stage")
            return True

        [served] = server.server.endpoints
        served.stages = (answers_pings, *served.stages)
        client = await server.connect("/a")
        await client.send("ping")
        assert await client.receive() == "pong from the stage"
        await client.send({"n": 1})
        assert await client.receive() == {"handler": {"n": 1}}
        module = handler_module("recording")
        await eventually(lambda: bool(module.SEEN))
        assert module.SEEN == [{"n": 1}]


def test_mask_hides_the_endpoints_own_token_param() -> None:
    """Endpoint.mask masks its authenticator's query parameter as well as the usual secret names."""
    slot, _ = recording_slot()
    settings = EndpointConfig("/a", "recording.py")
    guarded = Endpoint(settings, slot, QueryParamAuth())
    plain = Endpoint(settings, slot)
    assert guarded.secret_param == "pass_code" and plain.secret_param is None
    path = "/a?pass_code=s3cret&token=t0k&room=lobby"
    assert guarded.mask(path) == "/a?pass_code=***&token=***&room=lobby"
    assert plain.mask(path) == "/a?pass_code=s3cret&token=***&room=lobby"


def test_a_module_named_by_path_and_by_dotted_name_shares_one_slot(
    write: WriteFile, project: Path
) -> None:
    """load_endpoints gives endpoints naming one module two ways the same HandlerSlot."""
    write("handlers_pkg/chat.py", "def on_message(conn, data): pass\n")
    write("handlers_pkg/other.py", "")
    config = config_from_mapping(
        {
            "endpoints": [
                endpoint("/by-path", "handlers_pkg/chat.py"),
                endpoint("/by-name", "handlers_pkg.chat"),
                endpoint("/other", "handlers_pkg/other.py"),
            ]
        },
        base_dir=project,
    )
    slots: dict[str, HandlerSlot] = {}
    by_path, by_name, other = load_endpoints(config, slots)
    assert by_path.handler is by_name.handler
    assert other.handler is not by_path.handler
    assert sorted(slots) == ["handlers_pkg.chat", "handlers_pkg.other"]
    again = load_endpoints(config, slots)
    assert [e.handler for e in again] == [by_path.handler, by_path.handler, other.handler]


async def test_an_authenticate_module_stays_in_slots_after_apply_config(
    write: WriteFile, project: Path
) -> None:
    """A module named by authenticate keeps its slot in server.slots when a config is applied."""
    write("handler.py", "")
    write("gate.py", "def check(request):\n    return True\n")
    mapping = {"endpoints": [endpoint("/a", "handler.py", authenticate="gate.py:check")]}
    async with run_server(mapping, base_dir=project) as server:
        assert sorted(server.server.slots) == ["gate", "handler"]
        [served] = server.server.endpoints
        gate = server.server.slots["gate"]
        await server.server.apply_config(config_from_mapping(mapping, base_dir=project))
        assert server.server.endpoints == [served]
        assert server.server.slots.get("gate") is gate


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (None, "handler file not found"),
        ("x = 1\nraise RuntimeError('boom')\n", "bad.py:2: RuntimeError while importing: boom"),
    ],
    ids=["missing", "raises"],
)
def test_a_bad_handler_names_its_config_key(
    write: WriteFile, project: Path, source: str | None, expected: str
) -> None:
    """A handler that cannot be loaded raises a ConfigError naming endpoints[i].handler."""
    write("good.py", "")
    if source is not None:
        write("bad.py", source)
    config = config_from_mapping(
        {"endpoints": [endpoint("/good", "good.py"), endpoint("/bad", "bad.py")]},
        base_dir=project,
    )
    with pytest.raises(ConfigError) as caught:
        load_endpoints(config)
    assert caught.value.key == "endpoints[1].handler"
    assert "endpoints[1].handler" in str(caught.value)
    assert expected in str(caught.value)


async def test_an_endpoint_without_a_handler_serves_and_survives_apply_config() -> None:
    """No handler: an empty slot whose hooks are absent; reapplying the config keeps it open."""
    config = Config(endpoints=(EndpointConfig("/quiet"), EndpointConfig("/too")))
    async with run_server(config) as server:
        first, second = server.server.endpoints
        assert first.handler is second.handler and first.handler.is_empty
        assert first.handler.hook("on_message") is None
        client = await server.connect("/quiet")
        await client.send({"n": 1})
        await eventually(lambda: server.hub.get("c1") is not None)
        change = await server.server.apply_config(replace(config, port=server.port))
        assert change.closed == 0 and server.server.endpoints == [first, second]
        await client.send("still open")
        await client.close()
        await eventually(lambda: not server.hub.connections)
