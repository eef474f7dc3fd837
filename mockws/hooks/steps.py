"""Run declarative steps (send, reply, broadcast, join, leave, set, close, wait) for a connection.

:class:`ConnNames` gives templates their names: ``data``, ``conn``,
``params``, ``query``, ``seq`` and the base names (``now``, ``uuid``...),
each computed only if a template reads it. :class:`StepRunner` runs a list
of steps in order; a failed render stops the list (the caller logs it with
the template's file, line and key) and a ``close`` ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..config.rules import Broadcast, Close, Expect, Join, Leave, Send, SetState, Step, Wait
from ..config.template_names import Names
from ..config.templates import Template
from ..hub.connection import Connection
from ..hub.hub import Hub
from .delay import pause

__all__ = ["ConnNames", "StepRunner", "conn_view", "room_names"]

_ABSENT = object()


def conn_view(conn: Connection) -> dict[str, Any]:
    """What ``{{ conn }}`` shows of a connection (``state`` is the live dict)."""
    return {
        "id": conn.id,
        "endpoint": conn.endpoint,
        "path": conn.path,
        "params": dict(conn.params),
        "query": _query(conn.query),
        "user_id": conn.user_id,
        "auth_data": conn.auth_data,
        "state": conn.state,
        "rooms": sorted(conn.rooms),
    }


def _query(query: Mapping[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in query.items():
        result.setdefault(name, value)
    return result


class ConnNames(Names):
    """The names of a template run for a connection (or for no connection: a timed push).

    Args:
        conn: The connection, or None.
        env: What ``env`` shows (the config's ``template_env``).
        data: The message being answered, if any.
        seq: The rule's or timed push's count, if any.
    """

    __slots__ = ("_conn",)

    def __init__(
        self,
        conn: Connection | None,
        env: Mapping[str, str],
        *,
        data: Any = _ABSENT,
        seq: int | None = None,
    ) -> None:
        super().__init__(env=env)
        self._conn = conn
        if data is not _ABSENT:
            self.given["data"] = data
        if seq is not None:
            self.given["seq"] = seq

    def compute(self, key: str) -> Any:
        """Compute ``conn``, ``params`` and ``query`` from the connection; then the base names."""
        conn = self._conn
        if conn is not None:
            if key == "conn":
                return conn_view(conn)
            if key == "params":
                return dict(conn.params)
            if key == "query":
                return _query(conn.query)
        return super().compute(key)


def room_names(template: Template, names: Names) -> list[str]:
    """Render a room name, or a list of them, into strings.

    Raises:
        TemplateRenderError: The value is not a name or a list of names.
    """
    value = template.render(names)
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    rooms = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)) or item == "":
            raise template.error(f"a room name must be a non-empty string, got {item!r}")
        rooms.append(str(item))
    return rooms


class StepRunner:
    """Runs steps for one connection (or, without one, for an endpoint: a timed push).

    Args:
        hub: Where broadcasts go.
        endpoint: The endpoint's pattern (broadcasts without rooms reach it).
        conn: The connection the steps act on; None in a timed push, where
            ``send`` goes to each connection of the endpoint.
    """

    def __init__(self, hub: Hub, endpoint: str, conn: Connection | None = None) -> None:
        self.hub = hub
        self.endpoint = endpoint
        self.conn = conn

    async def run(self, steps: Sequence[Step], names: Names) -> bool:
        """Run ``steps`` in order.

        Returns:
            False when a step closed the connection (or it is closed), so
            nothing more should run for it.

        Raises:
            TemplateRenderError: A template failed; the steps after it did not run.
        """
        conn = self.conn
        for step in steps:
            if conn is not None and conn.closed:
                return False
            if isinstance(step, Send):
                await self._send(step, names)
            elif isinstance(step, Broadcast):
                await self._broadcast(step, names)
            elif isinstance(step, Wait):
                await pause(step.duration)
            elif isinstance(step, Expect):
                if not await self.expect(step, names):
                    return False
                names = self.after_expect(names)
            else:
                assert conn is not None, "validated at load: a timed push has no connection steps"
                if isinstance(step, Join):
                    for room in room_names(step.rooms, names):
                        conn.join(room)
                elif isinstance(step, Leave):
                    for room in room_names(step.rooms, names):
                        conn.leave(room)
                elif isinstance(step, SetState):
                    values = step.values.render(names)
                    if not isinstance(values, dict):
                        raise step.values.error(f"set needs a mapping, got {values!r}")
                    conn.state.update(values)
                elif isinstance(step, Close):
                    await conn.close(step.code, str(step.reason.render(names)))
                    return False
        return True

    async def expect(self, step: Expect, names: Names) -> bool:
        """Wait for a message (scripts only); return False to end the steps."""
        raise NotImplementedError("expect runs in scripts")

    def after_expect(self, names: Names) -> Names:
        """The names for the steps after an ``expect`` (the script gives ``data``)."""
        return names

    async def _send(self, step: Send, names: Names) -> None:
        if self.conn is not None:
            await self.conn.send(step.message.render(names))
            return
        # A timed push: each connection of the endpoint gets its own render.
        targets = [c for c in self.hub.connections.values() if c.endpoint == self.endpoint]
        for target in targets:
            if not target.closed:
                per_conn = ConnNames(target, names.env, seq=names.get("seq"))
                await target.send(step.message.render(per_conn))

    async def _broadcast(self, step: Broadcast, names: Names) -> None:
        message = step.message.render(names)
        rooms = None
        if step.rooms is not None:
            rooms = [room for template in step.rooms for room in room_names(template, names)]
        conn = self.conn
        exclude = conn if conn is not None and not step.include_self else None
        await self.hub.broadcast(
            message, rooms=rooms, exclude=exclude, endpoint=None if rooms else self.endpoint
        )
