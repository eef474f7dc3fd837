"""The registry of live connections and rooms, and message fan-out.

A broadcast encodes and frames its message once and queues the same bytes
for every recipient; delivery never waits on a recipient, so a slow client
cannot hold up the others (its outbox refuses frames once it is full).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from .codec import encode_message
from .connection import Connection
from .events import EventBus, message_out
from .frames import build_frame

__all__ = ["Hub"]

Exclude = Connection | str | Iterable[Connection | str] | None


class _RoomsView(Mapping[str, frozenset[Connection]]):
    """Read-only view of room name -> members, built on access."""

    def __init__(self, rooms: dict[str, dict[Connection, None]]) -> None:
        self._rooms = rooms

    def __getitem__(self, room: str) -> frozenset[Connection]:
        return frozenset(self._rooms[room])

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._rooms))

    def __len__(self) -> int:
        return len(self._rooms)


def _excluded_ids(exclude: Exclude) -> frozenset[str]:
    if exclude is None:
        return frozenset()
    if isinstance(exclude, (Connection, str)):
        exclude = (exclude,)
    return frozenset(item.id if isinstance(item, Connection) else item for item in exclude)


class Hub:
    """Every live connection of one server, its rooms, and broadcast."""

    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}
        self._by_endpoint: dict[str, dict[Connection, None]] = {}
        self._rooms: dict[str, dict[Connection, None]] = {}
        self.connections: Mapping[str, Connection] = MappingProxyType(self._connections)
        self.rooms: Mapping[str, frozenset[Connection]] = _RoomsView(self._rooms)
        self.events = EventBus()

    def get(self, conn_id: str) -> Connection | None:
        """Return the live connection with id ``conn_id``, or None."""
        return self._connections.get(conn_id)

    def _register(self, conn: Connection) -> None:
        self._connections[conn.id] = conn
        self._by_endpoint.setdefault(conn.endpoint, {})[conn] = None

    def _unregister(self, conn: Connection) -> None:
        for room in list(conn._rooms):
            self._leave(conn, room)
        self._connections.pop(conn.id, None)
        members = self._by_endpoint.get(conn.endpoint)
        if members is not None:
            members.pop(conn, None)
            if not members:
                del self._by_endpoint[conn.endpoint]

    def _join(self, conn: Connection, room: str) -> None:
        if not isinstance(room, str) or not room:
            raise ValueError(f"a room name must be a non-empty string, got {room!r}")
        self._rooms.setdefault(room, {})[conn] = None
        rooms = conn._rooms
        if not isinstance(rooms, set):  # the shared empty frozenset of a new connection
            rooms = conn._rooms = set()
        rooms.add(room)

    def _leave(self, conn: Connection, room: str) -> None:
        if isinstance(conn._rooms, set):
            conn._rooms.discard(room)
        members = self._rooms.get(room)
        if members is None:
            return
        members.pop(conn, None)
        if not members:
            del self._rooms[room]

    def _targets(
        self, rooms: str | Iterable[str] | None, endpoint: str | None
    ) -> Iterable[Connection]:
        if rooms is None:
            # Delivery is synchronous, so the live collections can be iterated.
            if endpoint is None:
                return self._connections.values()
            return self._by_endpoint.get(endpoint, {})
        if isinstance(rooms, str):
            rooms = (rooms,)
        unique: dict[Connection, None] = {}
        for room in rooms:
            unique.update(self._rooms.get(room, {}))
        if endpoint is None:
            return unique
        return [conn for conn in unique if conn.endpoint == endpoint]

    async def broadcast(
        self,
        data: Any,
        rooms: str | Iterable[str] | None = None,
        exclude: Exclude = None,
        endpoint: str | None = None,
    ) -> int:
        """Send ``data`` to many connections, each at most once.

        Args:
            data: What ``Connection.send`` accepts; it is encoded once.
            rooms: Only members of these rooms (a name or names); None for all.
            exclude: A connection or id, or several, to leave out.
            endpoint: Only connections of the endpoint with this pattern.

        Returns:
            How many connections the message was queued for. Closed
            connections and clients too far behind to take more are skipped.
        """
        opcode, payload = encode_message(data)
        if rooms is not None and not isinstance(rooms, str):
            rooms = tuple(rooms)
        reached = self._deliver(
            opcode, payload, self._targets(rooms, endpoint), _excluded_ids(exclude)
        )
        if self.events.wants_messages:
            room_names = (rooms,) if isinstance(rooms, str) else rooms
            self.events.publish(
                message_out(None, endpoint, opcode, payload, recipients=reached, rooms=room_names)
            )
        return reached

    def _deliver(
        self, opcode: int, payload: bytes, targets: Iterable[Connection], excluded: frozenset[str]
    ) -> int:
        frame = build_frame(opcode, payload)
        reached = 0
        for conn in targets:
            if conn.id in excluded:
                continue
            if conn._write(opcode, payload, frame):
                reached += 1
        return reached

    async def send_to_user(self, user_id: str, data: Any) -> int:
        """Send ``data`` to every connection whose ``user_id`` is ``user_id``.

        Returns:
            How many connections the message was queued for.
        """
        targets = [conn for conn in self._connections.values() if conn.user_id == user_id]
        opcode, payload = encode_message(data)
        reached = self._deliver(opcode, payload, targets, frozenset())
        if self.events.wants_messages:
            self.events.publish(
                message_out(None, None, opcode, payload, recipients=reached, user=user_id)
            )
        return reached
