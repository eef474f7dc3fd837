"""Apply an edited config to a running server, keeping the connections it still serves.

Endpoints are matched by pattern. An endpoint whose pattern and handler stay
keeps its connections; if its options changed (heartbeat, subprotocols...),
the new options apply to connections made from now on. Connections of an
endpoint that was removed, or whose pattern now names another handler, close
with 1012 "Service restart" so that the client reconnects to what is served
now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import Config
from .connection import Connection
from .endpoint import Endpoint
from .handlers import HandlerSlot

if TYPE_CHECKING:
    from .server import MockServer

__all__ = ["CLOSE_SERVICE_RESTART", "ConfigChange", "apply_endpoints"]

CLOSE_SERVICE_RESTART = 1012
# How long a config reload waits for closing clients to answer their close frame.
CLOSE_WAIT = 1.0

_closing: set[asyncio.Task[None]] = set()


@dataclass(frozen=True)
class ConfigChange:
    """What applying a config changed.

    Attributes:
        added: Patterns of the endpoints that started serving.
        removed: Patterns of the endpoints that stopped serving.
        changed: Patterns whose options or handler changed.
        closed: Connections closed with 1012 "Service restart".
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    closed: int = 0

    def describe(self) -> str:
        """Summarise the change for a log line."""
        parts = [f"+{pattern}" for pattern in self.added]
        parts += [f"~{pattern}" for pattern in self.changed]
        parts += [f"-{pattern}" for pattern in self.removed]
        if not parts:
            return "no endpoint changed"
        summary = "endpoints " + " ".join(parts)
        if self.closed:
            summary += f" ({self.closed} connection(s) closed with 1012)"
        return summary


def _still_served(conn: Connection, endpoints: Mapping[str, Endpoint]) -> bool:
    current = endpoints.get(conn.endpoint)
    return current is not None and current.handler is conn._endpoint.handler


async def apply_endpoints(
    server: MockServer,
    config: Config,
    endpoints: Sequence[Endpoint],
    slots: Mapping[str, HandlerSlot],
) -> ConfigChange:
    """Install ``config`` and its loaded ``endpoints`` on ``server``.

    Args:
        server: The running server.
        config: The new config, already validated.
        endpoints: ``config``'s endpoints with their handlers loaded.
        slots: Every handler slot the endpoints may use, by module name.
    """
    before = {endpoint.pattern: endpoint for endpoint in server.endpoints}
    installed = []
    for endpoint in endpoints:
        old = before.get(endpoint.pattern)
        unchanged = (
            old is not None and old.handler is endpoint.handler and old.config == endpoint.config
        )
        installed.append(old if unchanged and old is not None else endpoint)
    after = {endpoint.pattern: endpoint for endpoint in installed}
    doomed = [conn for conn in server.hub.connections.values() if not _still_served(conn, after)]
    old_slots = set(server._unique_slots())
    server._install(config, installed)
    new_slots = set(server._unique_slots())
    server.slots = {name: slot for name, slot in slots.items() if slot in new_slots}
    for slot in new_slots - old_slots:
        server._start_background(slot)
    closes = [
        asyncio.create_task(conn.close(CLOSE_SERVICE_RESTART, "Service restart")) for conn in doomed
    ]
    for task in closes:
        _closing.add(task)
        task.add_done_callback(_closing.discard)
    await asyncio.gather(*(server._stop_background(slot) for slot in old_slots - new_slots))
    if closes:
        await asyncio.wait(closes, timeout=CLOSE_WAIT)
    return ConfigChange(
        added=tuple(pattern for pattern in after if pattern not in before),
        removed=tuple(pattern for pattern in before if pattern not in after),
        changed=tuple(
            pattern
            for pattern in after
            if pattern in before and after[pattern] is not before[pattern]
        ),
        closed=len(doomed),
    )
