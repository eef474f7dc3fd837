"""``mockws init``: a starter config and handler that work as written."""

from __future__ import annotations

from pathlib import Path

from ..config.load import DEFAULT_CONFIG_NAMES
from ..errors import InitError

__all__ = ["RULES_STARTER_FILES", "STARTER_FILES", "write_starter"]

STARTER_CONFIG = """\
# mockws config, written by `mockws init`.
#   mockws check    validate it and import the handlers
#   mockws serve    serve it (handlers reload when you save them)
host: 127.0.0.1
port: 8765
endpoints:
  - pattern: /ws                  # ws://127.0.0.1:8765/ws
    handler: handlers/app.py
"""

STARTER_HANDLER = '''\
"""Starter handler written by `mockws init`: edit it while `mockws serve` runs.

Messages (JSON text):
    {"type": "join", "room": "lobby"}               -> {"type": "joined", "room": "lobby"}
    {"type": "say", "room": "lobby", "text": "hi"}  -> the room's other members get it
    anything else (text, JSON of any shape)         -> {"type": "echo", "data": <what you sent>}
    a binary message                                -> the same bytes back, as binary
"""


async def on_connect(conn):
    await conn.send({"type": "welcome", "id": conn.id})


async def on_message(conn, data):
    # JSON text arrives parsed; other text as str; binary messages as bytes.
    if isinstance(data, bytes):
        await conn.send(data)  # bytes go back as a binary message (JSON cannot hold them)
        return
    kind = data.get("type") if isinstance(data, dict) else None
    room = data.get("room") if isinstance(data, dict) else None
    if kind in ("join", "say") and not (isinstance(room, str) and room):
        await conn.send({"type": "error", "error": f"'{kind}' needs a 'room'"})
    elif kind == "join":
        conn.join(room)
        await conn.send({"type": "joined", "room": room})
    elif kind == "say":
        message = {"type": "said", "room": room, "from": conn.id, "text": data.get("text", "")}
        await conn.broadcast(message, rooms=[room])
    else:
        await conn.send({"type": "echo", "data": data})


async def on_close(conn, code, reason):
    for room in conn.rooms:
        await conn.broadcast({"type": "left", "room": room, "id": conn.id}, rooms=[room])
'''

STARTER_FILES = {"mockws.yaml": STARTER_CONFIG, "handlers/app.py": STARTER_HANDLER}

RULES_STARTER_CONFIG = """\
# mockws config, written by `mockws init --rules`: no Python needed (docs/rules.md).
#   mockws check    validate it and list the rules
#   mockws serve    serve it (edits apply when you save)
host: 127.0.0.1
port: 8765
endpoints:
  - pattern: /ws                  # ws://127.0.0.1:8765/ws
    on_connect:                   # steps run for each new connection
      - send: {type: welcome, id: "{{ conn.id }}"}
    rules:                        # the first rule that matches a message answers it
      - match: {type: ping}
        reply: {type: pong, at: "{{ now }}"}
      - match: {type: join}       # {"type": "join", "room": "lobby"}
        join: "{{ data.room }}"
        reply: {type: joined, room: "{{ data.room }}"}
      - match: {type: say}        # {"type": "say", "room": "lobby", "text": "hi"}
        broadcast: {type: said, from: "{{ conn.id }}", text: "{{ data.text }}"}
        rooms: ["{{ data.room }}"]
        include_self: false
      - match: {type: slow}
        delay: [200ms, 800ms]     # answer after a random 200-800 ms
        reply: {type: slow, echo: "{{ data }}"}
      - reply: {type: echo, data: "{{ data }}"}   # no match: anything else
    every:                        # runs only while someone is connected
      - interval: 5s
        broadcast: {type: tick, n: "{{ seq }}", at: "{{ now }}"}
"""

RULES_STARTER_FILES = {"mockws.yaml": RULES_STARTER_CONFIG}


def write_starter(folder: Path, *, rules: bool = False) -> list[Path]:
    """Write the starter config and handler into ``folder`` (created if missing).

    Args:
        folder: Where to write.
        rules: Write a config that uses only YAML rules, and no handler.

    Returns:
        The files written, in order.

    Raises:
        InitError: A starter file or another mockws config already exists
            there; nothing is written.
    """
    files = RULES_STARTER_FILES if rules else STARTER_FILES
    existing = [
        folder / name
        for name in dict.fromkeys((*DEFAULT_CONFIG_NAMES, *files))
        if (folder / name).exists()
    ]
    if existing:
        names = ", ".join(str(path) for path in existing)
        verb, them = ("exists", "it") if len(existing) == 1 else ("exist", "them")
        raise InitError(
            f"{names} already {verb}; not overwriting (remove {them} or pick another folder)"
        )
    if folder.exists() and not folder.is_dir():
        raise InitError(f"{folder} is not a folder")
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as file:
            file.write(text)
        written.append(path)
    return written
