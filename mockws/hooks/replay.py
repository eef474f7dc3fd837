"""Replay endpoints: play one recorded connection back to each client.

``timeline`` sends the recorded server frames at their offsets from the
connect (divided by ``speed``). ``reactive`` sends the server frames
recorded before the first client frame at connect, then, before each later
group of server frames, waits for a client message that matches the
recorded one (JSON subset or equal text; with ``match: any``, any
message). A recorded server close ends the replay with its code; ``loop``
starts over instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.proxy import ReplayConfig
from ..hub.connection import Connection
from ..observe.recording import RecordedFrame, RecordingError, load_recording

__all__ = ["Replay", "json_subset", "load_replay"]

log = logging.getLogger("mockws.replay")


def json_subset(expected: Any, actual: Any) -> bool:
    """Tell whether ``actual`` contains ``expected``: keys of objects, lists by position."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            key in actual and json_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) >= len(expected)
            and all(json_subset(item, other) for item, other in zip(expected, actual, strict=False))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


@dataclass(frozen=True)
class _Step:
    """A client frame to wait for (None: none, at connect) and the server frames after it."""

    expect: RecordedFrame | None
    replies: tuple[RecordedFrame, ...]


class Replay:
    """The loaded recording of a replay endpoint, shared by its connections."""

    def __init__(self, config: ReplayConfig, frames: Sequence[RecordedFrame], conn: str) -> None:
        self.config = config
        self.conn = conn
        self.frames = tuple(frames)
        self._inboxes: dict[Connection, asyncio.Queue[Any]] = {}
        self._tasks: dict[Connection, asyncio.Task[None]] = {}

    @property
    def steps(self) -> tuple[_Step, ...]:
        """The recording cut at each client frame (reactive mode)."""
        steps: list[_Step] = []
        expect: RecordedFrame | None = None
        replies: list[RecordedFrame] = []
        for frame in self.frames:
            if frame.direction == "in" and frame.kind != "close":
                steps.append(_Step(expect, tuple(replies)))
                expect, replies = frame, []
            elif frame.direction == "out":
                replies.append(frame)
        steps.append(_Step(expect, tuple(replies)))
        return tuple(steps)

    def opened(self, conn: Connection) -> None:
        """Start playing to a newly connected client."""
        if self.config.mode == "reactive":
            self._inboxes[conn] = asyncio.Queue()
        self._tasks[conn] = asyncio.create_task(self._play(conn), name=f"mockws replay {conn.id}")

    def closed(self, conn: Connection) -> None:
        """Stop playing to a client that went away."""
        self._inboxes.pop(conn, None)
        task = self._tasks.pop(conn, None)
        if task is not None:
            task.cancel()

    async def stage(self, conn: Connection, data: Any) -> bool:
        """The pipeline stage: a reactive replay takes every client message."""
        inbox = self._inboxes.get(conn)
        if inbox is None:
            return False
        inbox.put_nowait(data)
        return True

    async def _play(self, conn: Connection) -> None:
        try:
            while True:
                if self.config.mode == "reactive":
                    ended = await self._play_reactive(conn)
                else:
                    ended = await self._play_timeline(conn)
                if ended or not self.config.loop or conn.closed:
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: replay of %s failed", conn.id, self.config.file)

    async def _sleep_until(self, start: float, offset: float) -> None:
        speed = self.config.speed
        if speed <= 0:
            return
        delay = start + offset / speed - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def _send(self, conn: Connection, frame: RecordedFrame) -> bool:
        """Send one recorded server frame; True when it was the close that ends the replay."""
        if frame.kind == "close":
            await conn.close(int(frame.payload), frame.reason)
            return True
        await conn.send(frame.message())
        return False

    async def _play_timeline(self, conn: Connection) -> bool:
        start = asyncio.get_running_loop().time()
        for frame in self.frames:
            if frame.direction != "out":
                continue
            await self._sleep_until(start, frame.t)
            if conn.closed or await self._send(conn, frame):
                return True
        return False

    async def _play_reactive(self, conn: Connection) -> bool:
        inbox = self._inboxes[conn]
        for step in self.steps:
            base = 0.0
            if step.expect is not None:
                while not self._matches(step.expect, await inbox.get()):
                    log.info(
                        "%s: replay waits for a message like line t=%s", conn.id, step.expect.t
                    )
                base = step.expect.t
            start = asyncio.get_running_loop().time()
            for frame in step.replies:
                await self._sleep_until(start, frame.t - base)
                if conn.closed or await self._send(conn, frame):
                    return True
        return False

    def _matches(self, expected: RecordedFrame, data: Any) -> bool:
        if self.config.match == "any":
            return True
        if expected.kind == "json":
            return json_subset(expected.payload, data)
        return bool(expected.payload == data)


def load_replay(config: ReplayConfig) -> Replay:
    """Load the recording a replay endpoint plays.

    Raises:
        RecordingError: The file is not a valid recording, or has no
            connection ``config.conn``.
    """
    connections = load_recording(config.file)
    if config.conn is None:
        chosen = next(iter(connections.values()))
    elif config.conn in connections:
        chosen = connections[config.conn]
    else:
        have = ", ".join(connections)
        raise RecordingError(f"{Path(config.file)}: no connection {config.conn!r} (it has {have})")
    return Replay(config, chosen.frames, chosen.conn)
