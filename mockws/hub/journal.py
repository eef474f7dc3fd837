"""A record of every message in and out of every connection, for tests.

``mockws.testing`` attaches a :class:`Journal` to the hub of the servers it
starts (``hub.journal``); a server without one records nothing and pays one
``is None`` check per message. Incoming messages are recorded as
``on_message`` gets them (parsed JSON, text or bytes), outgoing ones as the
client will decode them, one entry per recipient of a broadcast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..wire.codec import decode_text
from ..wire.frames import Opcode

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Direction", "Journal", "JournalEntry"]

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class JournalEntry:
    """One message, seen from the server.

    Attributes:
        conn_id: The connection it came from or went to.
        endpoint: That connection's endpoint pattern.
        direction: ``"in"`` from the client, ``"out"`` to it.
        data: Parsed JSON, ``str`` for other text, ``bytes`` for binary.
        time: When the server read or queued it (``time.time()``).
        seq: Its place in the whole journal, from 0.
    """

    conn_id: str
    endpoint: str
    direction: Direction
    data: Any
    time: float = field(default_factory=time.time)
    seq: int = 0


class Journal:
    """Every message of a server's connections, in the order the server saw them."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self._waiters: list[asyncio.Future[None]] = []

    def received(self, conn: Connection, data: Any) -> None:
        """Record a message ``conn`` sent, as its handler gets it."""
        self._add(conn, "in", data)

    def sent(self, conn: Connection, opcode: int, payload: bytes) -> None:
        """Record an encoded message queued for ``conn``."""
        if opcode == Opcode.TEXT:
            data: Any = decode_text(payload.decode("utf-8", "replace"), True)
        else:
            data = payload
        self._add(conn, "out", data)

    def _add(self, conn: Connection, direction: Direction, data: Any) -> None:
        self.entries.append(
            JournalEntry(conn.id, conn.endpoint, direction, data, seq=len(self.entries))
        )
        self.notify()

    def notify(self) -> None:
        """Wake every :meth:`wait` (also for things recorded elsewhere, such as connects)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, ready: Callable[[], Any], timeout: float) -> Any:
        """Return ``ready()``'s first truthy result, checking after each change.

        Raises:
            TimeoutError: ``ready()`` stayed falsy for ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            while True:
                result = ready()
                if result:
                    return result
                waiter = loop.create_future()
                self._waiters.append(waiter)
                await waiter

    def clear(self) -> None:
        """Forget every entry (``RunningServer.reset``)."""
        self.entries.clear()
