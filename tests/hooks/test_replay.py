"""Replay endpoints play a recording back over real sockets (mockws/hooks/replay.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from mockws.errors import ConfigError
from mockws.hooks.replay import json_subset
from mockws.testing import run_server


def recording(path: Path, frames: list[dict[str, Any]], conn: str = "c1") -> Path:
    rows = [{"mockws": 1, "conn": conn, "endpoint": "/x", "path": "/x", "subprotocol": None}]
    rows += [{"conn": conn, **frame} for frame in frames]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


TIMELINE = [
    {"t": 0.0, "dir": "out", "json": {"n": 1}},
    {"t": 0.1, "dir": "in", "text": "ignored in timeline mode"},
    {"t": 0.4, "dir": "out", "text": "two"},
    {"t": 0.8, "dir": "out", "b64": "AAE="},
]


async def test_timeline_sends_server_frames_at_their_offsets(tmp_path: Path) -> None:
    file = recording(tmp_path / "t.jsonl", TIMELINE)
    config = {"endpoints": [{"pattern": "/x", "replay": {"file": str(file)}}]}
    async with run_server(config) as server:
        started = time.monotonic()
        client = await server.connect("/x")
        got = []
        for _ in range(3):
            got.append((await client.receive(5), time.monotonic() - started))
    assert [item for item, _ in got] == [{"n": 1}, "two", b"\x00\x01"]
    offsets = [offset for _, offset in got]
    assert offsets[1] >= 0.38 and offsets[2] >= 0.78
    assert offsets[2] < 0.8 + 1.0


async def test_speed_divides_the_offsets_and_zero_sends_at_once(tmp_path: Path) -> None:
    file = recording(tmp_path / "t.jsonl", TIMELINE)
    for speed, low, high in ((4.0, 0.19, 1.0), (0, 0.0, 0.5)):
        config = {"endpoints": [{"pattern": "/x", "replay": {"file": str(file), "speed": speed}}]}
        async with run_server(config) as server:
            started = time.monotonic()
            client = await server.connect("/x")
            for _ in range(3):
                await client.receive(5)
            assert low <= time.monotonic() - started < high


async def test_a_recorded_server_close_ends_the_replay_with_its_code(tmp_path: Path) -> None:
    frames = [*TIMELINE[:1], {"t": 0.1, "dir": "out", "close": 4005, "reason": "recorded end"}]
    file = recording(tmp_path / "c.jsonl", frames)
    config = {"endpoints": [{"pattern": "/x", "replay": str(file)}]}
    async with run_server(config) as server:
        client = await server.connect("/x")
        assert await client.receive() == {"n": 1}
        assert await client.expect_close(5) == (4005, "recorded end")


async def test_loop_starts_over(tmp_path: Path) -> None:
    file = recording(tmp_path / "l.jsonl", [{"t": 0.05, "dir": "out", "text": "tick"}])
    config = {"endpoints": [{"pattern": "/x", "replay": {"file": str(file), "loop": True}}]}
    async with run_server(config) as server:
        client = await server.connect("/x")
        assert [await client.receive(5) for _ in range(4)] == ["tick"] * 4


REACTIVE = [
    {"t": 0.0, "dir": "out", "json": {"type": "welcome"}},
    {"t": 1.0, "dir": "in", "json": {"type": "subscribe", "channel": "eu"}},
    {"t": 1.1, "dir": "out", "json": {"type": "subscribed", "channel": "eu"}},
    {"t": 1.2, "dir": "out", "json": {"type": "price", "v": 1}},
    {"t": 5.0, "dir": "in", "text": "bye"},
    {"t": 5.1, "dir": "out", "text": "see you"},
]


async def test_reactive_waits_for_a_matching_message_before_each_reply(tmp_path: Path) -> None:
    file = recording(tmp_path / "r.jsonl", REACTIVE)
    config = {"endpoints": [{"pattern": "/x", "replay": {"file": str(file), "mode": "reactive"}}]}
    async with run_server(config) as server:
        client = await server.connect("/x")
        assert await client.receive() == {"type": "welcome"}
        await client.expect_no_message(0.3)
        await client.send({"type": "other"})  # not like the recorded one: ignored
        await client.expect_no_message(0.3)
        await client.send({"type": "subscribe", "channel": "eu", "extra": True})
        assert await client.receive() == {"type": "subscribed", "channel": "eu"}
        assert await client.receive() == {"type": "price", "v": 1}
        await client.send("bye")
        assert await client.receive() == "see you"


async def test_reactive_with_match_any_takes_any_message(tmp_path: Path) -> None:
    file = recording(tmp_path / "r.jsonl", REACTIVE)
    replay = {"file": str(file), "mode": "reactive", "match": "any", "speed": 0}
    config = {"endpoints": [{"pattern": "/x", "replay": replay}]}
    async with run_server(config) as server:
        client = await server.connect("/x")
        assert await client.receive() == {"type": "welcome"}
        await client.send("anything")
        assert await client.receive() == {"type": "subscribed", "channel": "eu"}


async def test_replay_conn_picks_a_recorded_connection(tmp_path: Path) -> None:
    file = tmp_path / "two.jsonl"
    recording(file, [{"t": 0, "dir": "out", "text": "first"}], conn="c1")
    with file.open("a", encoding="utf-8") as handle:
        handle.write(
            '{"mockws": 1, "conn": "c7"}\n{"t": 0, "conn": "c7", "dir": "out", "text": "seven"}\n'
        )
    config = {"endpoints": [{"pattern": "/x", "replay": {"file": str(file), "conn": "c7"}}]}
    async with run_server(config) as server:
        client = await server.connect("/x")
        assert await client.receive() == "seven"


def test_a_broken_recording_is_a_config_error_naming_its_line(tmp_path: Path) -> None:
    from mockws.config.load import config_from_mapping
    from mockws.server.endpoints import load_endpoints

    file = tmp_path / "bad.jsonl"
    file.write_text('{"mockws": 1, "conn": "c1"}\n{"t": "x", "conn": "c1"}\n', encoding="utf-8")
    config = config_from_mapping({"endpoints": [{"pattern": "/x", "replay": str(file)}]})
    with pytest.raises(ConfigError, match=r"replay\.file.*bad\.jsonl:2"):
        load_endpoints(config)
    missing = {"endpoints": [{"pattern": "/x", "replay": {"file": "nope.jsonl"}}]}
    with pytest.raises(ConfigError, match="no such recording"):
        config_from_mapping(missing, base_dir=tmp_path)


def test_json_subset() -> None:
    assert json_subset({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3})
    assert json_subset([1, {"x": 1}], [1, {"x": 1, "y": 2}, 3])
    assert not json_subset({"a": 1}, {"a": 2})
    assert not json_subset({"a": True}, {"a": 1})
    assert not json_subset([1, 2], [1])
