"""``mockws send`` and ``mockws connections``: talk to a running server's admin API.

The URL defaults to the config's host and port (a wildcard bind is reached
on loopback), ``https`` when the config has ``tls``. The admin token comes
from the config's ``admin_token``, else ``MOCKWS_ADMIN_TOKEN``. Over https
the local CA of ``mockws serve --tls`` is trusted besides the system's.
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..config.model import Config
from ..server.tls import cache_dir
from ..server.urls import url_host

__all__ = [
    "ADMIN_TOKEN_ENV",
    "AdminClient",
    "RemoteError",
    "Target",
    "default_url",
    "format_connections",
    "parse_payload",
]

ADMIN_TOKEN_ENV = "MOCKWS_ADMIN_TOKEN"
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
_TIMEOUT = 10.0


class RemoteError(Exception):
    """A request that failed, with the exit code it means (1 unreachable, 2 refused).

    Attributes:
        exit_code: 1 when the server could not be reached, 2 when it refused
            the request (unknown connection or endpoint, missing token).
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    """Who ``mockws send`` sends to; all None means every connection."""

    room: tuple[str, ...] = ()
    conn: str | None = None
    user: str | None = None
    endpoint: str | None = None


def default_url(config: Config | None) -> str:
    """Return the base URL of the server ``config`` describes (without one, port 8765)."""
    if config is None:
        return "http://127.0.0.1:8765"
    host = _ANY_ADDRESS.get(config.host, config.host)
    scheme = "https" if config.tls is not None else "http"
    return f"{scheme}://{url_host(host)}:{config.port}"


def parse_payload(text: str) -> Any:
    """Return the JSON value of ``text``.

    Raises:
        ValueError: ``text`` is not JSON; the message says how to send text.
    """
    try:
        return json.loads(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not JSON; to send it as text, quote it as a JSON string: '\"{text}\"'"
        ) from None


def _ssl_context(config: Config | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    trusted = [cache_dir() / "ca.pem"]
    if config is not None and config.tls is not None:
        trusted.append(config.tls.cert)  # a self-signed certificate is its own CA
    for path in trusted:
        if path.is_file():
            try:
                context.load_verify_locations(cafile=str(path))
            except ssl.SSLError:
                continue
    return context


class AdminClient:
    """Requests to one server's ``/__mockws/api``.

    Args:
        base_url: ``http(s)://host:port`` of the server.
        token: The admin token, if the server needs one.
        config: The config the URL came from (for TLS trust), if any.
    """

    def __init__(self, base_url: str, token: str | None, config: Config | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._context = _ssl_context(config) if self.base_url.startswith("https:") else None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send one request and return its JSON answer.

        Raises:
            RemoteError: The server is unreachable (1) or refused the request (2).
        """
        url = f"{self.base_url}/__mockws/api/{path}"
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT, context=self._context) as reply:
                return json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RemoteError(self._refusal(exc), 2) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            hint = ""
            if isinstance(reason, ssl.SSLCertVerificationError):
                hint = " (the certificate is not trusted: see docs/tls.md)"
            raise RemoteError(
                f"cannot reach a mockws server at {self.base_url}: {reason}{hint}", 1
            ) from None

    def _refusal(self, exc: urllib.error.HTTPError) -> str:
        try:
            message = json.loads(exc.read()).get("error", "")
        except (ValueError, AttributeError, OSError):
            message = ""
        if exc.code == 401 and not self.token:
            message += f" (set admin_token in the config or {ADMIN_TOKEN_ENV})"
        if exc.code == 404 and not message:
            message = (
                "no admin API there: the server is not a mockws server, or it is bound "
                "to a non-loopback address without an admin_token"
            )
        return f"{self.base_url} answered {exc.code}: {message or exc.reason}"

    def send(self, target: Target, data: Any) -> str:
        """Send ``data`` to ``target``; return a line saying whom it reached."""
        if target.conn is not None:
            reply = self.request(
                "POST", f"connections/{quote(target.conn, safe='')}/send", {"data": data}
            )
            return (
                f"sent to {target.conn}" if reply.get("sent") else f"{target.conn} did not take it"
            )
        if target.user is not None:
            reply = self.request(
                "POST", f"users/{quote(target.user, safe='')}/send", {"data": data}
            )
        else:
            body: dict[str, Any] = {"data": data}
            if target.room:
                body["rooms"] = list(target.room)
            if target.endpoint is not None:
                body["endpoint"] = target.endpoint
            reply = self.request("POST", "broadcast", body)
        reached = int(reply.get("reached", 0))
        return f"reached {reached} connection{'' if reached == 1 else 's'}"

    def connections(self) -> list[dict[str, Any]]:
        """Return the server's open connections as the admin API describes them."""
        reply = self.request("GET", "connections")
        return list(reply.get("connections", []))


def format_connections(connections: list[dict[str, Any]]) -> list[str]:
    """Return a table of ``connections``: id, endpoint, path, user, rooms, messages in/out."""
    header = ("ID", "ENDPOINT", "PATH", "USER", "ROOMS", "IN", "OUT")
    rows = [header] + [
        (
            str(conn.get("id", "")),
            str(conn.get("endpoint", "")),
            str(conn.get("path", "")),
            str(conn.get("user") or "-"),
            ",".join(conn.get("rooms", [])) or "-",
            str(conn.get("messages_in", 0)),
            str(conn.get("messages_out", 0)),
        )
        for conn in connections
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def admin_token(config: Config | None) -> str | None:
    """Return the admin token: the config's, else ``MOCKWS_ADMIN_TOKEN``."""
    if config is not None and config.admin_token:
        return config.admin_token
    return os.environ.get(ADMIN_TOKEN_ENV) or None
