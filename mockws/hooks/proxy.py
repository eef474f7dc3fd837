"""Proxied endpoints: one upstream WebSocket per client connection.

The upstream handshake happens before the client's: the client is upgraded
only once the upstream accepted (and with the subprotocol the upstream
chose), gets the upstream's HTTP status when it refused, or close 1014 when
it never answered within ``proxy.connect_timeout``. Afterwards frames go
both ways as they are (text as text, binary as binary); either side closing
closes the other with the same code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import aiohttp

from ..config.proxy import ProxyConfig
from ..hub.connection import Connection
from ..observe.redact import SECRET_QUERY_PARAMS, mask_query
from ..wire.close import CloseCode, encode_close_reason
from ..wire.codec import decode_text
from .loader import HandlerSlot
from .pipeline import report_hook_error
from .rules import RuleBook

__all__ = [
    "ProxyRoute",
    "Upstream",
    "UpstreamRefused",
    "UpstreamUnavailable",
    "UpstreamHandler",
    "open_upstream",
    "upstream_handler",
    "upstream_url",
]

log = logging.getLogger("mockws.proxy")

UpstreamHandler = Callable[[Connection, "str | bytes"], Awaitable[None]]
"""What the proxy does with each upstream message (forward, replace, drop)."""

# Headers of the client's handshake that belong to that one hop and are not forwarded.
_HOP_HEADERS = frozenset(
    {
        "host",
        "upgrade",
        "connection",
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
        "content-length",
        "transfer-encoding",
        "origin",
    }
)


class UpstreamRefused(Exception):
    """The upstream answered the handshake with an HTTP status instead of upgrading."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"upstream refused the handshake with HTTP {status}: {message}")
        self.status = status


class UpstreamUnavailable(Exception):
    """The upstream could not be reached or did not answer in time."""


def upstream_url(proxy: ProxyConfig, params: Mapping[str, str], query_string: str) -> str:
    """Return the upstream URL for a client: parameters filled in, the query forwarded."""
    url = proxy.url
    for name, value in params.items():
        url = url.replace("{" + name + "}", quote(value, safe=""))
    if not proxy.forward_query or not query_string:
        return url
    dropped = {name.lower() for name in proxy.drop_query}
    pairs = [
        (name, value)
        for name, value in parse_qsl(query_string, keep_blank_values=True)
        if name.lower() not in dropped
    ]
    if not pairs:
        return url
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode(pairs))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


@dataclass(eq=False)
class Upstream:
    """The upstream leg of one proxied connection.

    Attributes:
        url: The upstream URL with secret query values masked (safe to show).
        protocol: The subprotocol the upstream chose, if any.
    """

    url: str
    protocol: str | None
    _session: aiohttp.ClientSession
    _socket: aiohttp.ClientWebSocketResponse
    pending: str | bytes | None = None
    """The client message being offered to the endpoint's stages, as it arrived."""

    @property
    def closed(self) -> bool:
        """True once the upstream socket is closed."""
        return self._socket.closed

    async def send(self, message: str | bytes) -> None:
        """Forward one client message upstream, text as text and bytes as binary."""
        if self._socket.closed:
            return
        try:
            if isinstance(message, str):
                await self._socket.send_str(message)
            else:
                await self._socket.send_bytes(message)
        except (ConnectionError, RuntimeError) as exc:
            log.info("upstream %s: cannot forward: %s", self.url, exc)

    async def pump(self, conn: Connection, handle: UpstreamHandler) -> None:
        """Pass every upstream message to ``handle`` until either side closes.

        When the upstream closes first, the client is closed with the same
        code (1014 when the upstream dropped without a close frame).
        """
        socket = self._socket
        reason = ""
        try:
            while not conn.closed:
                message = await socket.receive()
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    await handle(conn, message.data)
                elif message.type is aiohttp.WSMsgType.CLOSE:
                    reason = str(message.extra or "")
                    break
                elif message.type in (
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        finally:
            if not conn.closed:
                await conn.close(*_relayed_close(socket.close_code, reason))

    async def close(self, code: int | None, reason: str = "") -> None:
        """Close the upstream with the client's code (1000 when it cannot be sent)."""
        try:
            if not self._socket.closed:
                sendable = code if code is not None and CloseCode.sendable(code) else 1000
                await self._socket.close(code=sendable, message=encode_close_reason(reason))
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            log.debug("upstream %s: close failed: %s", self.url, exc)
        finally:
            await self._session.close()


def _relayed_close(code: int | None, reason: str) -> tuple[int, str]:
    if code is None or not CloseCode.sendable(code):
        return CloseCode.BAD_GATEWAY, "Bad gateway: the upstream dropped the connection"
    return code, reason


async def open_upstream(
    proxy: ProxyConfig,
    params: Mapping[str, str],
    query_string: str,
    headers: Mapping[str, str],
    offered: Sequence[str],
    max_message_size: int,
) -> Upstream:
    """Open the upstream connection for one client.

    Args:
        params: The client's path parameters.
        query_string: The client's raw query string.
        headers: The client's handshake headers; end-to-end ones are forwarded.
        offered: The subprotocols the client offered.
        max_message_size: The largest message taken from the upstream.

    Raises:
        UpstreamRefused: The upstream answered with an HTTP status.
        UpstreamUnavailable: It could not be reached within ``connect_timeout``.
    """
    url = upstream_url(proxy, params, query_string)
    shown = mask_query(url, SECRET_QUERY_PARAMS)
    forwarded = {name: value for name, value in headers.items() if name.lower() not in _HOP_HEADERS}
    forwarded.update(proxy.headers)
    protocols: Sequence[str] = offered if proxy.subprotocols == "forward" else proxy.subprotocols
    session = aiohttp.ClientSession()
    try:
        socket = await asyncio.wait_for(
            session.ws_connect(
                url,
                protocols=tuple(protocols),
                headers=forwarded,
                ssl=proxy.verify,
                autoping=True,
                max_msg_size=max_message_size,
            ),
            proxy.connect_timeout,
        )
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        raise UpstreamRefused(exc.status, exc.message) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        await session.close()
        why = "no answer" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
        raise UpstreamUnavailable(f"upstream {shown}: {why}") from None
    except BaseException:
        await session.close()
        raise
    return Upstream(shown, socket.protocol, session, socket)


class ProxyRoute:
    """A proxied endpoint's upstream legs, and the stage that forwards to them."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self._legs: dict[Connection, Upstream] = {}

    def attach(self, conn: Connection, upstream: Upstream) -> None:
        """Make ``upstream`` the leg that ``conn``'s messages are forwarded to."""
        self._legs[conn] = upstream

    def detach(self, conn: Connection) -> Upstream | None:
        """Forget ``conn``'s leg and return it."""
        return self._legs.pop(conn, None)

    def leg(self, conn: Connection) -> Upstream | None:
        """The upstream leg of ``conn``, if it has one."""
        return self._legs.get(conn)

    async def forward(self, conn: Connection, data: Any) -> bool:
        """The last stage of a proxied endpoint: send the message upstream as it arrived."""
        upstream = self._legs.get(conn)
        if upstream is None or upstream.pending is None:
            return False
        await upstream.send(upstream.pending)
        return True


def upstream_handler(
    slot: HandlerSlot, parse_json: bool, rules: RuleBook | None = None
) -> UpstreamHandler:
    """Return what a proxied connection does with each upstream message.

    ``upstream_rules`` come first: a rule that matches takes the message
    (its ``reply`` goes to the client instead, ``drop`` drops it). Then,
    without an ``on_upstream_message`` hook, the message goes to the client
    as it arrived. With one, the hook gets it (JSON parsed like
    ``on_message``'s) and its return value is sent instead; None drops it.
    A hook that raises is reported and the message goes through unchanged.
    """

    async def handle(conn: Connection, raw: str | bytes) -> None:
        hook = slot.hook("on_upstream_message")
        if hook is None and rules is None:
            await conn.send(raw)
            return
        data = decode_text(raw, parse_json) if isinstance(raw, str) else raw
        if rules is not None and await rules.stage(conn, data):
            return
        if hook is None:
            await conn.send(raw)
            return
        try:
            result = await slot.timer.call(hook, conn, data)
        except Exception as exc:  # noqa: BLE001 - a handler bug must not stop the proxy
            await report_hook_error(slot, conn, exc, "on_upstream_message")
            result = raw
        if result is not None:
            await conn.send(result)

    return handle
