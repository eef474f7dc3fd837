"""Plan how an edited config applies to a running server; pure, no I/O.

Endpoints are matched by pattern. An endpoint whose pattern and handler stay
keeps its connections; if its options changed (heartbeat, subprotocols...),
the new options apply to connections made from now on. Connections of an
endpoint that was removed, or whose pattern now names another handler, are
to close with 1012 "Service restart" so that the client reconnects to what
is served now. :meth:`mockws.server.app.MockServer.apply_config` carries the
plan out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..config.model import HttpRouteConfig
from ..hooks.loader import HandlerSlot
from .endpoints import Endpoint

__all__ = ["ConfigChange", "ReconfigPlan", "plan_reconfig", "route_changes", "unique_slots"]


@dataclass(frozen=True)
class ConfigChange:
    """What applying a config changed.

    Attributes:
        added: Patterns of the endpoints that started serving.
        removed: Patterns of the endpoints that stopped serving.
        changed: Patterns whose options or handler changed.
        closed: Connections closed with 1012 "Service restart".
        routes: HTTP routes added (``+GET /x``), changed (``~``) and removed (``-``).
    """

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    closed: int = 0
    routes: tuple[str, ...] = ()

    def describe(self) -> str:
        """Summarise the change for a log line."""
        parts = [f"+{pattern}" for pattern in self.added]
        parts += [f"~{pattern}" for pattern in self.changed]
        parts += [f"-{pattern}" for pattern in self.removed]
        if not parts and not self.routes:
            return "no endpoint changed"
        summary = "endpoints " + " ".join(parts) if parts else "no endpoint changed"
        if self.closed:
            summary += f" ({self.closed} connection(s) closed with 1012)"
        if self.routes:
            summary += "; routes " + " ".join(self.routes)
        return summary


def route_changes(
    before: Sequence[HttpRouteConfig], after: Sequence[HttpRouteConfig]
) -> tuple[str, ...]:
    """List the HTTP routes an edited config adds (``+``), changes (``~``) and removes (``-``)."""
    old = {route.route: route for route in before}
    new = {route.route: route for route in after}
    changes = [f"+{name}" for name in new if name not in old]
    changes += [f"~{name}" for name, route in new.items() if name in old and old[name] != route]
    changes += [f"-{name}" for name in old if name not in new]
    return tuple(changes)


@dataclass(frozen=True)
class ReconfigPlan:
    """What a server must do to serve a new config.

    Attributes:
        endpoints: The endpoints to serve, in config order; unchanged ones
            are the running objects themselves.
        close: Patterns whose open connections close with 1012.
        start_background: Handler modules newly in use: start their ``background``.
        stop_background: Handler modules no longer in use: stop theirs.
        change: The summary, without the count of closed connections.
    """

    endpoints: tuple[Endpoint, ...]
    close: frozenset[str]
    start_background: tuple[HandlerSlot, ...]
    stop_background: tuple[HandlerSlot, ...]
    change: ConfigChange


def unique_slots(endpoints: Sequence[Endpoint]) -> list[HandlerSlot]:
    """Return the handler modules ``endpoints`` use, each once, in order."""
    return list(dict.fromkeys(endpoint.handler for endpoint in endpoints))


def plan_reconfig(running: Sequence[Endpoint], loaded: Sequence[Endpoint]) -> ReconfigPlan:
    """Compare the ``running`` endpoints with those ``loaded`` from a new config.

    Args:
        running: What the server serves now.
        loaded: The new config's endpoints, handlers loaded.
    """
    before = {endpoint.pattern: endpoint for endpoint in running}
    installed = []
    for endpoint in loaded:
        old = before.get(endpoint.pattern)
        unchanged = (
            old is not None and old.handler is endpoint.handler and old.config == endpoint.config
        )
        installed.append(old if unchanged and old is not None else endpoint)
    after = {endpoint.pattern: endpoint for endpoint in installed}
    close = frozenset(
        pattern
        for pattern, old in before.items()
        if pattern not in after or after[pattern].handler is not old.handler
    )
    old_slots, new_slots = unique_slots(running), unique_slots(installed)
    return ReconfigPlan(
        endpoints=tuple(installed),
        close=close,
        start_background=tuple(slot for slot in new_slots if slot not in old_slots),
        stop_background=tuple(slot for slot in old_slots if slot not in new_slots),
        change=ConfigChange(
            added=tuple(pattern for pattern in after if pattern not in before),
            removed=tuple(pattern for pattern in before if pattern not in after),
            changed=tuple(
                pattern
                for pattern in after
                if pattern in before and after[pattern] is not before[pattern]
            ),
        ),
    )
