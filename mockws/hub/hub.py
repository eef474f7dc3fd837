"""The registry of live connections and rooms, and message fan-out.

A broadcast encodes its message once into a
:class:`~mockws.hub.broker.Publication` and hands it to the broker, which
gives it back to :meth:`Hub.deliver` for this process's connections (and,
for a shared broker, to the other processes). Delivery frames the message
once and queues the same bytes for every recipient at once. Recipients that
are then over their ``send_high_water`` (``on_backpressure: wait``) are
waited for afterwards, all together and each only up to its own deadline, so
a slow client never delays what the others receive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from ..observe.events import EventBus, RoomJoined, RoomLeft, event_out, message_out
from ..wire.codec import encode_message
from ..wire.frames import Opcode, build_frame
from ..wire.outbox import BEHIND
from .broker import Broker, InProcessBroker, Publication
from .connection import Connection
from .journal import Journal

__all__ = ["Hub"]

Exclude = Connection | str | Iterable[Connection | str] | None
_NO_ROOMS: frozenset[str] = frozenset()


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


def _add(index: dict[str, dict[Connection, None]], key: str, conn: Connection) -> None:
    index.setdefault(key, {})[conn] = None


def _discard(index: dict[str, dict[Connection, None]], key: str, conn: Connection) -> None:
    members = index.get(key)
    if members is not None:
        members.pop(conn, None)
        if not members:
            del index[key]


class Hub:
    """Every live connection of one server, its rooms, and broadcast.

    Args:
        broker: Carries publications to every process that shares it; by
            default an :class:`~mockws.hub.broker.InProcessBroker`.
    """

    def __init__(self, broker: Broker | None = None) -> None:
        self._connections: dict[str, Connection] = {}
        self._by_endpoint: dict[str, dict[Connection, None]] = {}
        self._by_user: dict[str, dict[Connection, None]] = {}
        self._rooms: dict[str, dict[Connection, None]] = {}
        # Only connections that joined a room have an entry: idle memory.
        self._memberships: dict[Connection, set[str]] = {}
        self.connections: Mapping[str, Connection] = MappingProxyType(self._connections)
        # Set by mockws.testing before the server starts; None records nothing.
        self.journal: Journal | None = None
        self.rooms: Mapping[str, frozenset[Connection]] = _RoomsView(self._rooms)
        self.events = EventBus()
        # Background tasks abandoned for ignoring their cancellation (see revoke_task).
        self._revoked: set[asyncio.Task[Any]] = set()
        # Set by deliver: recipients of the last delivery that are over their mark.
        self._behind: list[Connection] | None = None
        self.broker: Broker = broker if broker is not None else InProcessBroker()
        self.broker.attach(self)

    def get(self, conn_id: str) -> Connection | None:
        """Return the live connection with id ``conn_id``, or None."""
        return self._connections.get(conn_id)

    def register(self, conn: Connection) -> None:
        """Make ``conn`` reachable by id, endpoint and user (after authentication)."""
        self._connections[conn.id] = conn
        _add(self._by_endpoint, conn.endpoint, conn)
        self.broker.registered(conn.id, conn.endpoint)
        if conn.user_id is not None:
            _add(self._by_user, conn.user_id, conn)
            self.broker.user_set(conn.id, conn.user_id)

    def unregister(self, conn: Connection) -> None:
        """Remove ``conn`` from its rooms (unreported), then from every index."""
        for room in self._memberships.pop(conn, ()):
            _discard(self._rooms, room, conn)
            self.broker.left(conn.id, room)
        if self._connections.pop(conn.id, None) is None:
            return
        _discard(self._by_endpoint, conn.endpoint, conn)
        if conn.user_id is not None:
            _discard(self._by_user, conn.user_id, conn)
        self.broker.unregistered(conn.id)

    def user_changed(self, conn: Connection, previous: str | None) -> None:
        """Re-index ``conn`` after its ``user_id`` changed from ``previous``."""
        if self._connections.get(conn.id) is not conn:
            return
        if previous is not None:
            _discard(self._by_user, previous, conn)
        if conn.user_id is not None:
            _add(self._by_user, conn.user_id, conn)
        self.broker.user_set(conn.id, conn.user_id)

    def rooms_of(self, conn: Connection) -> frozenset[str]:
        """Return the rooms ``conn`` is a member of."""
        rooms = self._memberships.get(conn)
        return frozenset(rooms) if rooms else _NO_ROOMS

    def join(self, conn: Connection, room: str) -> None:
        """Add ``conn`` to ``room``; joining twice changes nothing.

        Raises:
            ValueError: ``room`` is not a non-empty string.
        """
        if not isinstance(room, str) or not room:
            raise ValueError(f"a room name must be a non-empty string, got {room!r}")
        rooms = self._memberships.setdefault(conn, set())
        if room in rooms:
            return
        rooms.add(room)
        _add(self._rooms, room, conn)
        self.broker.joined(conn.id, room)
        if self.events.active:
            self.events.publish(RoomJoined(conn_id=conn.id, room=room))

    def leave(self, conn: Connection, room: str) -> None:
        """Remove ``conn`` from ``room``; leaving twice changes nothing."""
        rooms = self._memberships.get(conn)
        if rooms is None or room not in rooms:
            return
        rooms.discard(room)
        if not rooms:
            del self._memberships[conn]
        _discard(self._rooms, room, conn)
        self.broker.left(conn.id, room)
        if self.events.active:
            self.events.publish(RoomLeft(conn_id=conn.id, room=room))

    def _targets(self, publication: Publication) -> Iterable[Connection]:
        rooms, endpoint = publication.rooms, publication.endpoint
        if publication.target is not None:
            conn = self._connections.get(publication.target)
            return () if conn is None else (conn,)
        if publication.user is not None:
            return self._by_user.get(publication.user, {})
        if rooms is None:
            # Delivery is synchronous, so the live collections can be iterated.
            if endpoint is None:
                return self._connections.values()
            return self._by_endpoint.get(endpoint, {})
        unique: dict[Connection, None] = {}
        for room in rooms:
            unique.update(self._rooms.get(room, {}))
        if endpoint is None:
            return unique
        return [conn for conn in unique if conn.endpoint == endpoint]

    def deliver(self, publication: Publication) -> int:
        """Queue ``publication`` for this process's matching connections; return how many.

        The broker calls it, for this process's publications and others'.
        The frame is built once and shared by every recipient that does not
        compress.
        """
        if publication.event is not None:
            return self._deliver_event(publication)
        excluded = publication.exclude
        frame = build_frame(publication.opcode, publication.payload)
        opcode, payload = publication.opcode, publication.payload
        reached = 0
        behind: list[Connection] | None = None
        for conn in self._targets(publication):
            if excluded and conn.id in excluded:
                continue
            queued = conn._write(opcode, payload, frame)
            if queued:
                reached += 1
                if queued == BEHIND:
                    if behind is None:
                        behind = []
                    behind.append(conn)
        self._behind = behind
        return reached

    def _deliver_event(self, publication: Publication) -> int:
        event, args, namespace = publication.event, publication.args, publication.namespace
        assert event is not None
        excluded = publication.exclude
        reached = 0
        for conn in self._targets(publication):
            if excluded and conn.id in excluded:
                continue
            if conn._write_event(event, args, namespace):
                reached += 1
        return reached

    async def emit(
        self,
        event: str,
        *args: Any,
        rooms: str | Iterable[str] | None = None,
        exclude: Exclude = None,
        endpoint: str | None = None,
        namespace: str | None = None,
    ) -> int:
        """Emit the Socket.IO event ``event`` with ``args`` to many Socket.IO connections.

        WebSocket connections have no events and are not reached.

        Args:
            event: The event name.
            args: Its arguments (what ``json.dumps`` takes, or bytes).
            rooms: Only members of these rooms (a name or names); None for all.
            exclude: A connection or id, or several, to leave out.
            endpoint: Only connections of the endpoint with this pattern.
            namespace: Only connections of this namespace (``"/"``, ``"/admin"``).

        Returns:
            How many connections the event was queued for.
        """
        room_names = None if rooms is None else (rooms,) if isinstance(rooms, str) else tuple(rooms)
        publication = Publication(
            Opcode.TEXT,
            b"",
            rooms=room_names,
            endpoint=endpoint,
            exclude=_excluded_ids(exclude),
            event=event,
            args=args,
            namespace=namespace,
        )
        reached = self.broker.publish(publication)
        if self.events.wants_messages:
            self.events.publish(
                event_out(None, endpoint, event, args, recipients=reached, rooms=room_names)
            )
        return reached

    def revoke_task(self, task: asyncio.Task[Any]) -> None:
        """Refuse every broadcast ``task`` makes from now on (an abandoned ``background``)."""
        self._revoked.add(task)

    def forget_task(self, task: asyncio.Task[Any]) -> None:
        """``task`` has ended: stop tracking it."""
        self._revoked.discard(task)

    def _check_revoked(self) -> None:
        if asyncio.current_task() in self._revoked:
            raise RuntimeError(
                "this background task ignored its cancellation and was abandoned: "
                "its broadcasts are refused (let CancelledError propagate)"
            )

    async def _publish(self, publication: Publication) -> int:
        """Publish, then wait for the local recipients over their mark; return how many got it.

        The broker delivers locally before ``publish`` returns, so the
        recipients :meth:`deliver` found behind are this publication's.
        """
        if self._revoked:
            self._check_revoked()
        self._behind = None
        reached = self.broker.publish(publication)
        behind, self._behind = self._behind, None
        if behind is None:
            return reached
        if len(behind) == 1:
            caught_up = [await behind[0].drain()]
        else:
            caught_up = await asyncio.gather(*(conn.drain() for conn in behind))
        return reached - caught_up.count(False)

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

        It queues the message at once for every recipient under its
        ``send_high_water``, then waits for those over it (``on_backpressure:
        wait``), each up to its deadline (``slow_client_timeout`` from when it
        fell behind), after which that one is closed with 1008.

        Returns:
            How many connections the message was queued for. Closed
            connections, clients closed for being too slow and messages a
            drop policy dropped are not counted.
        """
        opcode, payload = encode_message(data)
        room_names = None if rooms is None else (rooms,) if isinstance(rooms, str) else tuple(rooms)
        publication = Publication(
            opcode, payload, rooms=room_names, endpoint=endpoint, exclude=_excluded_ids(exclude)
        )
        reached = await self._publish(publication)
        if self.events.wants_messages:
            self.events.publish(
                message_out(None, endpoint, opcode, payload, recipients=reached, rooms=room_names)
            )
        return reached

    async def send_to(self, conn_id: str, data: Any) -> int:
        """Send ``data`` to the connection ``conn_id``, here or on another process.

        Returns:
            1 when it was queued for a connection of this process, else 0
            (the broker carries it to the process that has it).
        """
        opcode, payload = encode_message(data)
        return self.broker.publish(Publication(opcode, payload, target=conn_id))

    async def send_to_user(self, user_id: str, data: Any) -> int:
        """Send ``data`` to every connection whose ``user_id`` is ``user_id``.

        Waits for recipients over their mark as :meth:`broadcast` does.

        Returns:
            How many connections the message was queued for.
        """
        opcode, payload = encode_message(data)
        reached = await self._publish(Publication(opcode, payload, user=user_id))
        if self.events.wants_messages:
            self.events.publish(
                message_out(None, None, opcode, payload, recipients=reached, user=user_id)
            )
        return reached
