"""Admission: may an upgrade request become a WebSocket at all.

Before aiohttp upgrades anything, a request must be a WebSocket handshake
(else 426), come from an allowed ``Origin`` (else 403, against cross-site
WebSocket hijacking), reach a server that is not shutting down and whose
connection limits leave room (else 503). Authentication comes after the
upgrade (:mod:`mockws.auth`), because browsers cannot read a refused
handshake's status.

A connection counts from the moment its upgrade request is admitted until its
session ends, so connections still authenticating count too.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence

from aiohttp import web

from ..config.limits import ServerLimits
from ..config.model import Config
from ..observe.events import EventBus
from ..observe.redact import SECRET_QUERY_PARAMS
from .endpoints import Endpoint
from .urls import parse_origin

__all__ = ["LOOPBACK_HOSTS", "Admission", "Handshake", "describe_origins", "origin_allowed"]

log = logging.getLogger("mockws.server")

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


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


def _spec_refusal(
    request: web.Request, endpoint: Endpoint, params: Mapping[str, str]
) -> web.Response | None:
    """400 when the path parameters or query break the endpoint's AsyncAPI channel."""
    assert endpoint.spec is not None
    secret = SECRET_QUERY_PARAMS
    if endpoint.secret_param:
        secret = secret | {endpoint.secret_param}
    problems = endpoint.spec.handshake(params, request.query, secret)
    if not problems:
        return None
    log.warning(
        "refused a connection to %s: the AsyncAPI channel says %s",
        endpoint.pattern,
        "; ".join(problems),
    )
    lines = "".join(f"  {problem}\n" for problem in problems)
    return web.Response(
        status=400, text=f"{endpoint.mask(request.path_qs)} breaks the AsyncAPI channel:\n{lines}"
    )


def origin_allowed(origin: str | None, allowed: Sequence[str] | None) -> bool:
    """Tell whether a handshake with this ``Origin`` header may proceed.

    Args:
        origin: The header's value; None when the client sent none (a
            non-browser client), which is always allowed.
        allowed: Exact origins (scheme://host[:port]), ``"*"`` for all, or
            None for the default: http and https on loopback hosts, any port.
    """
    if origin is None:
        return True
    normalized = origin.strip().lower().rstrip("/")
    if allowed is None:
        # Strictly scheme://host[:port]: "http://evil.com\@localhost" is not localhost.
        parsed = parse_origin(normalized)
        return parsed is not None and parsed[0] in ("http", "https") and parsed[1] in LOOPBACK_HOSTS
    return any(entry == "*" or entry.lower().rstrip("/") == normalized for entry in allowed)


def describe_origins(allowed: Sequence[str] | None) -> str:
    """Say in words which origins may connect (``mockws check`` prints it)."""
    if allowed is None:
        return "loopback only (http and https on localhost, 127.0.0.1, ::1, any port; the default)"
    if "*" in allowed:
        return "every origin (allowed_origins: ['*'])"
    return ", ".join(allowed) + " (allowed_origins; replaces the loopback default)"


def _allow_hint(origin: str | None, allowed: Sequence[str] | None) -> str:
    if allowed is None:
        return f"the default allows loopback origins only: add {origin!r} to allowed_origins"
    return (
        f"add {origin!r} to allowed_origins (it replaces the loopback default, so list "
        "every origin you use; now: " + ", ".join(allowed) + ")"
    )


class Handshake:
    """The checks an upgrade request passes before aiohttp upgrades it.

    Args:
        events: Where a refusal by ``faults.refuse`` is reported.

    Attributes:
        admission: Counts the connections admitted and not yet ended.
        stopping: Set when the server shuts down: every upgrade gets 503.
    """

    def __init__(self, events: EventBus | None = None) -> None:
        self.admission = Admission()
        self.stopping = False
        self.events = events if events is not None else EventBus()

    def refusal(
        self,
        request: web.Request,
        endpoint: Endpoint,
        config: Config,
        params: Mapping[str, str] | None = None,
    ) -> web.Response | None:
        """Return the answer that refuses ``request``, or None once it is admitted.

        An admitted request must be released with :meth:`release` when its
        session ends.
        """
        if not web.WebSocketResponse().can_prepare(request).ok:
            return web.Response(
                status=426,
                text=f"{request.path} is a WebSocket endpoint: connect with a WebSocket "
                "client (new WebSocket('ws://...') in a browser).\n",
                headers={"Upgrade": "websocket", "Connection": "Upgrade"},
            )
        origin = request.headers.get("Origin")
        if not origin_allowed(origin, config.allowed_origins):
            log.warning(
                "refused a connection to %s from origin %s: %s",
                request.path,
                origin,
                _allow_hint(origin, config.allowed_origins),
            )
            return web.Response(status=403, text=f"Origin {origin} is not allowed.\n")
        status = endpoint.faults.refusal(self.events)
        if status is not None:
            left = endpoint.faults.refusals_left
            return web.Response(
                status=status,
                text=f"Refused by the endpoint's faults.refuse ({left} more to refuse).\n",
            )
        if self.stopping:
            return web.Response(status=503, text="The server is shutting down.\n")
        if endpoint.spec is not None:
            refused = _spec_refusal(request, endpoint, params or {})
            if refused is not None:
                return refused
        return self.admission.admit(endpoint, config.limits)

    def release(self, endpoint: Endpoint) -> None:
        """End the count of a connection that :meth:`refusal` admitted."""
        self.admission.release(endpoint)
