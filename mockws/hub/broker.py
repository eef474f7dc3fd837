"""Fan-out behind a small interface: where a published message goes.

The :class:`~mockws.hub.hub.Hub` encodes a broadcast once into a
:class:`Publication` and hands it to its broker. The broker decides who
delivers it: :class:`InProcessBroker`, the default, gives it straight back
to the hub's local fan-out; a broker shared by several processes (Redis)
also sends it to the others, each of which delivers it to its own
connections. Membership changes reach the broker so that it can tell the
other processes which rooms and users live here.

Publishing is synchronous on purpose: local delivery queues frames without
waiting, and a remote broker queues the message for its own writer task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Broker", "Cluster", "InProcessBroker", "LocalDelivery", "Publication"]


@dataclass(slots=True)
class Publication:
    """One encoded message on its way to many connections.

    Attributes:
        opcode: The frame opcode (text or binary).
        payload: The encoded message.
        rooms: Only members of these rooms; None for no room filter.
        endpoint: Only connections of this endpoint pattern; None for any.
        user: Only connections of this user id; None for any.
        exclude: Ids of connections to leave out.
        event: A Socket.IO event name: the publication is an ``emit`` of
            ``args`` (``payload`` is then their JSON, for display), and only
            Socket.IO connections take it.
        args: The event's arguments.
        namespace: Only Socket.IO connections of this namespace; None for any.
        target: Only the connection with this id (the admin API's send);
            None for no such filter.
    """

    opcode: int
    payload: bytes
    rooms: tuple[str, ...] | None = None
    endpoint: str | None = None
    user: str | None = None
    exclude: frozenset[str] = frozenset()
    event: str | None = None
    args: tuple[Any, ...] = ()
    namespace: str | None = None
    target: str | None = None


class LocalDelivery(Protocol):
    """The process's own fan-out, which a broker calls for every publication."""

    def deliver(self, publication: Publication) -> int:
        """Queue ``publication`` for the matching local connections; return how many."""
        ...


class Broker(Protocol):
    """Carries publications and membership changes between the hubs that share it."""

    def attach(self, local: LocalDelivery) -> None:
        """Deliver publications, this process's and others', through ``local``."""
        ...

    def publish(self, publication: Publication) -> int:
        """Send ``publication`` everywhere; return the local connections reached."""
        ...

    def joined(self, conn_id: str, room: str) -> None:
        """A local connection joined ``room``."""
        ...

    def left(self, conn_id: str, room: str) -> None:
        """A local connection left ``room``."""
        ...

    def registered(self, conn_id: str, endpoint: str) -> None:
        """A local connection was registered on ``endpoint``."""
        ...

    def user_set(self, conn_id: str, user: str | None) -> None:
        """A local connection's user id is now ``user`` (None: it has none)."""
        ...

    def unregistered(self, conn_id: str) -> None:
        """A local connection is gone (its rooms were left first)."""
        ...

    async def start(self) -> None:
        """Connect, before the server accepts connections."""
        ...

    async def stop(self) -> None:
        """Disconnect, after the last connection closed."""
        ...


@runtime_checkable
class Cluster(Protocol):
    """A broker that several processes share: what the admin API asks it.

    The hub's own connections are the local ones; a cluster broker knows
    the others from its registry.
    """

    node: str
    """This process's name in the cluster; its connection ids start with it."""

    describe: Callable[[str], dict[str, Any]] | None
    """Describes a local connection for the registry (set by the admin routes)."""

    async def remote_connections(self) -> list[dict[str, Any]]:
        """Return the descriptions of every other live process's connections."""
        ...

    async def remote_connection(self, conn_id: str) -> dict[str, Any] | None:
        """Return the description of another process's connection ``conn_id``, or None."""
        ...

    async def ping(self) -> str:
        """Return a short description of the broker server; raise when it does not answer."""
        ...


class InProcessBroker:
    """The default broker: one process, so every publication is delivered here."""

    def __init__(self) -> None:
        self._local: LocalDelivery | None = None

    def attach(self, local: LocalDelivery) -> None:
        """Deliver every publication through ``local``."""
        self._local = local

    def publish(self, publication: Publication) -> int:
        """Deliver ``publication`` locally; return how many connections it reached."""
        if self._local is None:
            raise RuntimeError("InProcessBroker.publish before attach: give it to a Hub first")
        return self._local.deliver(publication)

    def joined(self, conn_id: str, room: str) -> None:
        """Nothing to announce within one process."""

    def left(self, conn_id: str, room: str) -> None:
        """Nothing to announce within one process."""

    def registered(self, conn_id: str, endpoint: str) -> None:
        """Nothing to announce within one process."""

    def user_set(self, conn_id: str, user: str | None) -> None:
        """Nothing to announce within one process."""

    def unregistered(self, conn_id: str) -> None:
        """Nothing to announce within one process."""

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to disconnect from."""
