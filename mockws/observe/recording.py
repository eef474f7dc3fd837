"""Recordings: every frame of a connection, both ways, as JSON Lines.

The format (one JSON object per line)::

    {"mockws": 1, "conn": "c1", "endpoint": "/ws/live/{market}", "path": "/ws/live/eu?token=***",
     "subprotocol": null, "started": "2026-12-01T20:00:00.000+00:00"}
    {"t": 0.012, "conn": "c1", "dir": "out", "json": {"type": "hello"}}
    {"t": 0.250, "conn": "c1", "dir": "in", "text": "ping"}
    {"t": 0.251, "conn": "c1", "dir": "out", "b64": "AAEC"}
    {"t": 1.500, "conn": "c1", "dir": "in", "close": 1000, "reason": ""}

A header line starts each connection; several connections may share one
file, told apart by ``conn``. Secrets are masked before anything is
written: the path's secret query values and secret-named JSON keys.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from .redact import mask_json_secrets

__all__ = [
    "FORMAT_VERSION",
    "ConnectionRecording",
    "RecordedConnection",
    "RecordedFrame",
    "Recorder",
    "RecordingError",
    "event_from_text",
    "event_text",
    "load_recording",
]

log = logging.getLogger("mockws.record")

FORMAT_VERSION = 1
_TEXT, _BINARY = 0x1, 0x2
_PAYLOAD_KINDS = ("json", "text", "b64")


class RecordingError(ValueError):
    """A recording file that cannot be played: the message names its line."""


@dataclass(frozen=True)
class RecordedFrame:
    """One recorded frame (or the close that ended the connection).

    Attributes:
        t: Seconds since the connection was accepted.
        direction: ``in`` (from the client) or ``out`` (to the client).
        kind: ``json``, ``text``, ``b64`` (binary) or ``close``.
        payload: The JSON value, the text, the bytes, or the close code.
        reason: The close reason, for ``close``.
    """

    t: float
    direction: Literal["in", "out"]
    kind: Literal["json", "text", "b64", "close"]
    payload: Any
    reason: str = ""

    def message(self) -> Any:
        """What ``conn.send`` takes to send this frame again: JSON value, text or bytes."""
        return self.payload


@dataclass
class RecordedConnection:
    """One connection of a recording: its header and frames in order."""

    conn: str
    header: dict[str, Any]
    frames: list[RecordedFrame] = field(default_factory=list)


def load_recording(path: Path) -> dict[str, RecordedConnection]:
    """Read a recording: its connections by id, in the order they start.

    Raises:
        RecordingError: A line is not JSON or not of the format; the message
            names the file and line.
    """
    connections: dict[str, RecordedConnection] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path}: cannot read the recording: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise RecordingError(f"{where}: not JSON ({exc.args[0]})") from None
        if not isinstance(item, dict) or not isinstance(item.get("conn"), str):
            raise RecordingError(f'{where}: expected an object with a "conn" id')
        conn = item["conn"]
        if "mockws" in item:
            if item["mockws"] != FORMAT_VERSION:
                raise RecordingError(f"{where}: unknown format version {item['mockws']!r}")
            connections[conn] = RecordedConnection(conn, item)
            continue
        if conn not in connections:
            raise RecordingError(f"{where}: frame of connection {conn!r} before its header line")
        connections[conn].frames.append(_frame(item, where))
    if not connections:
        raise RecordingError(f"{path}: the recording has no connection in it")
    return connections


def _frame(item: dict[str, Any], where: str) -> RecordedFrame:
    t, direction = item.get("t"), item.get("dir")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or t < 0:
        raise RecordingError(f'{where}: "t" must be a number of seconds >= 0')
    if direction not in ("in", "out"):
        raise RecordingError(f'{where}: "dir" must be "in" or "out", got {direction!r}')
    if "close" in item:
        code = item["close"]
        if isinstance(code, bool) or not isinstance(code, int):
            raise RecordingError(f'{where}: "close" must be a close code')
        return RecordedFrame(float(t), direction, "close", code, str(item.get("reason", "")))
    kinds = [kind for kind in _PAYLOAD_KINDS if kind in item]
    if len(kinds) != 1:
        raise RecordingError(f'{where}: a frame needs exactly one of "json", "text", "b64"')
    kind = kinds[0]
    payload = item[kind]
    if kind == "text" and not isinstance(payload, str):
        raise RecordingError(f'{where}: "text" must be a string')
    if kind == "b64":
        try:
            payload = base64.b64decode(payload, validate=True)
        except (TypeError, ValueError):
            raise RecordingError(f'{where}: "b64" is not base64') from None
    return RecordedFrame(float(t), direction, kind, payload)  # type: ignore[arg-type]


class _RecordingFile:
    """One open recording file, shared by the connections that record into it."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self.size = path.stat().st_size if path.exists() else 0
        self.stopped = False
        self.users = 0
        self._handle: IO[str] | None = None

    def write(self, item: dict[str, Any]) -> None:
        if self.stopped:
            return
        line = json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n"
        size = len(line.encode("utf-8"))
        if self.size + size > self.limit:
            self.stopped = True
            log.warning(
                "%s: recording stopped at record_limit (%d bytes); serving goes on",
                self.path,
                self.limit,
            )
            self.close()
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(line)
        self._handle.flush()
        self.size += size

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Recorder:
    """Records the connections of one endpoint to a file, or a file each.

    Args:
        path: The file; ``{conn}`` and ``{date}`` in it are filled per connection.
        limit: Bytes a file may grow to before recording into it stops.
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.limit = limit
        self._files: dict[Path, _RecordingFile] = {}
        self._written: dict[Path, None] = {}

    def files(self) -> Iterator[Path]:
        """Every file this recorder has written to, in the order it first opened them."""
        return iter(list(self._written))

    def start(
        self, conn_id: str, endpoint: str, path: str, subprotocol: str | None
    ) -> ConnectionRecording:
        """Begin recording one connection: write its header line.

        Args:
            path: The request path and query, already masked.
        """
        now = datetime.now(UTC)
        target = Path(
            str(self.path).replace("{conn}", conn_id).replace("{date}", now.strftime("%Y%m%d"))
        )
        file = self._files.get(target)
        if file is None:
            file = self._files[target] = _RecordingFile(target, self.limit)
            self._written[target] = None
        file.users += 1
        file.write(
            {
                "mockws": FORMAT_VERSION,
                "conn": conn_id,
                "endpoint": endpoint,
                "path": path,
                "subprotocol": subprotocol,
                "started": now.isoformat(timespec="milliseconds"),
            }
        )
        return ConnectionRecording(self, file, conn_id)

    def release(self, file: _RecordingFile) -> None:
        """Stop a connection's use of ``file``; the last user closes it."""
        file.users -= 1
        if file.users <= 0:
            file.close()
            self._files.pop(file.path, None)


class ConnectionRecording:
    """Writes the frames of one connection; a :class:`~mockws.hub.connection` frame tap."""

    __slots__ = ("_recorder", "_file", "_conn", "_started")

    def __init__(self, recorder: Recorder, file: _RecordingFile, conn_id: str) -> None:
        self._recorder = recorder
        self._file = file
        self._conn = conn_id
        self._started = time.monotonic()

    @property
    def file(self) -> Path:
        """The file this connection's frames go to."""
        return self._file.path

    def frame(self, direction: Literal["in", "out"], opcode: int, payload: bytes | str) -> None:
        """Record one data frame, its secrets masked."""
        item: dict[str, Any] = {
            "t": round(time.monotonic() - self._started, 6),
            "conn": self._conn,
            "dir": direction,
        }
        if opcode == _BINARY:
            raw = payload.encode("utf-8") if isinstance(payload, str) else payload
            item["b64"] = base64.b64encode(raw).decode("ascii")
        else:
            text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
            item.update(_text_item(mask_json_secrets(text)))
        self._file.write(item)

    def closed(self, direction: Literal["in", "out"], code: int | None, reason: str) -> None:
        """Record how the connection ended and release the file."""
        if code is not None:
            self._file.write(
                {
                    "t": round(time.monotonic() - self._started, 6),
                    "conn": self._conn,
                    "dir": direction,
                    "close": code,
                    "reason": reason,
                }
            )
        self._recorder.release(self._file)


def event_text(event: str, args: tuple[Any, ...] | list[Any]) -> str:
    """A Socket.IO event as a recording's JSON frame: ``{"event", "args"}`` (bytes as b64)."""

    def binary(value: object) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
        return repr(value)

    return json.dumps({"event": event, "args": list(args)}, ensure_ascii=False, default=binary)


def event_from_text(text: str | bytes) -> tuple[str, tuple[Any, ...]]:
    """The event and arguments :func:`event_text` wrote (``{"b64": ...}`` back to bytes)."""

    def binary(item: dict[str, Any]) -> Any:
        if len(item) == 1 and isinstance(item.get("b64"), str):
            return base64.b64decode(item["b64"])
        return item

    frame = json.loads(text, object_hook=binary)
    return str(frame["event"]), tuple(frame["args"])


def _text_item(text: str) -> dict[str, Any]:
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return {"json": json.loads(text)}
        except ValueError:
            pass
    return {"text": text}
