"""Connection counting: refuse an upgrade with HTTP 503 when a limit is reached.

A connection counts from the moment its upgrade request is admitted until its
session ends, so connections still authenticating count too.
"""

from __future__ import annotations

import logging
from collections import Counter

from aiohttp import web

from .endpoint import Endpoint
from .limits import ServerLimits

__all__ = ["Admission"]

log = logging.getLogger("mockws.server")


class Admission:
    """Counts open connections per server and per endpoint pattern."""

    def __init__(self) -> None:
        self.total = 0
        self.by_endpoint: Counter[str] = Counter()

    def admit(self, endpoint: Endpoint, limits: ServerLimits) -> web.Response | None:
        """Count a new connection to ``endpoint``, or return the 503 that refuses it.

        A connection that was admitted must be released with :meth:`release`.
        """
        endpoint_limit = endpoint.config.limits.max_connections
        if limits.max_connections is not None and self.total >= limits.max_connections:
            return self._refuse(
                endpoint, f"the server has {self.total} connections (limits.max_connections)"
            )
        open_here = self.by_endpoint[endpoint.pattern]
        if endpoint_limit is not None and open_here >= endpoint_limit:
            return self._refuse(
                endpoint,
                f"{endpoint.pattern} has {open_here} connections (its limits.max_connections)",
            )
        self.total += 1
        self.by_endpoint[endpoint.pattern] += 1
        return None

    def release(self, endpoint: Endpoint) -> None:
        """Stop counting a connection that :meth:`admit` let in."""
        self.total -= 1
        self.by_endpoint[endpoint.pattern] -= 1
        if self.by_endpoint[endpoint.pattern] <= 0:
            del self.by_endpoint[endpoint.pattern]

    @staticmethod
    def _refuse(endpoint: Endpoint, why: str) -> web.Response:
        log.warning("refused a connection to %s: %s", endpoint.pattern, why)
        return web.Response(
            status=503,
            text=f"Too many connections: {why}. Try again later.\n",
            headers={"Retry-After": "1"},
        )
