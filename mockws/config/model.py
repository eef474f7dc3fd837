"""The validated, frozen shape of a config: what the rest of mockws trusts.

:mod:`mockws.config.load` builds these from YAML, Python or a mapping and
checks everything once; no other module validates config values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .asyncapi_model import AsyncApiSettings, ChannelBinding
from .durations import DurationRange
from .faults import FaultsConfig
from .limits import EndpointLimits, ServerLimits
from .proxy import ProxyConfig, RecordConfig, ReplayConfig
from .rules import Behaviour
from .templates import Template
from .yaml_source import SourceMap

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "PROTOCOLS",
    "SOCKETIO",
    "socketio_route",
    "AuthenticateRef",
    "BrokerConfig",
    "CompressionConfig",
    "Config",
    "EndpointConfig",
    "HttpRouteConfig",
    "JwtConfig",
    "TlsConfig",
    "SendToUser",
]

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
SOCKETIO = "socket.io"
PROTOCOLS = ("websocket", SOCKETIO)


def socketio_route(pattern: str) -> str:
    """Return a Socket.IO ``pattern`` as the router matches it: without a trailing ``/``."""
    return pattern.rstrip("/") or "/"


@dataclass(frozen=True)
class CompressionConfig:
    """permessage-deflate settings of one endpoint.

    Attributes:
        enabled: Negotiate permessage-deflate when the client offers it.
        threshold: Messages shorter than this many bytes go uncompressed.
    """

    enabled: bool = False
    threshold: int = 1024


@dataclass(frozen=True)
class JwtConfig:
    """Built-in JWT authentication from a query-string token.

    Exactly one of ``secret`` (HMAC) and ``public_key`` (a PEM file path,
    resolved against the config folder) is set. ``algorithms`` is required
    and never read from the token.
    """

    algorithms: tuple[str, ...]
    secret: str | None = field(default=None, repr=False)
    public_key: Path | None = None
    query_param: str = "token"
    audience: str | None = None
    issuer: str | None = None
    leeway: float = 0.0
    required_claims: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthenticateRef:
    """A user callable that authenticates the upgrade request.

    Attributes:
        target: ``path/to/file.py:function`` or ``dotted.module:function``.
    """

    target: str


@dataclass(frozen=True)
class TlsConfig:
    """Serve ``wss://`` and ``https://``: a PEM certificate chain and its private key.

    Attributes:
        cert: The certificate (chain) file, resolved against the config folder.
        key: The private key file; None when ``cert`` holds the key too.
    """

    cert: Path
    key: Path | None = None


@dataclass(frozen=True)
class EndpointConfig:
    """One URL pattern and the handler module that serves it.

    Attributes:
        pattern: Matched after the server prefix; ``{name}`` captures a segment.
        handler: A file path (``handlers/chat.py``) or a dotted module name;
            None for an endpoint served by declarative keys alone (rules...).
        heartbeat: Seconds between server pings; None disables.
        compression: permessage-deflate settings.
        max_message_size: Larger incoming messages close the socket with 1009.
        subprotocols: Offered by the server; the first one the client lists wins.
        parse_json: Text messages that are JSON reach ``on_message`` parsed.
        authenticate: JWT settings, a callable reference, or None for none.
        limits: Connection, slow-client and incoming-message limits (see mockws.config.limits).
        protocol: ``"websocket"``, or ``"socket.io"`` for a Socket.IO server
            (see docs/socketio.md).
        namespaces: The Socket.IO namespaces clients may connect to.
        proxy: Forward each connection to an upstream (see mockws.config.proxy).
        record: Record every frame both ways to JSON Lines.
        replay: Play a recording back instead of serving live.
        behaviour: ``on_connect``, ``rules``, ``every`` and ``script`` (see
            mockws.config.rules); None when the endpoint has none.
        asyncapi: The AsyncAPI channel whose spec the endpoint's traffic is
            checked against (and, without a handler, played); None for none.
        faults: Network faults to inject (see mockws.config.faults); None for none.
    """

    pattern: str
    handler: str | None = None
    heartbeat: float | None = None
    compression: CompressionConfig = CompressionConfig()
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    subprotocols: tuple[str, ...] = ()
    parse_json: bool = True
    authenticate: JwtConfig | AuthenticateRef | None = None
    limits: EndpointLimits = EndpointLimits()
    protocol: str = "websocket"
    namespaces: tuple[str, ...] = ("/",)
    behaviour: Behaviour | None = None
    asyncapi: ChannelBinding | None = None
    faults: FaultsConfig | None = None
    proxy: ProxyConfig | None = None
    record: RecordConfig | None = None
    replay: ReplayConfig | None = None
    upstream_rules: Behaviour | None = None

    @property
    def socketio(self) -> bool:
        """True for a Socket.IO endpoint."""
        return self.protocol == SOCKETIO

    @property
    def route_pattern(self) -> str:
        """The pattern the router matches: a Socket.IO pattern's trailing ``/`` dropped."""
        return socketio_route(self.pattern) if self.socketio else self.pattern


@dataclass(frozen=True)
class SendToUser:
    """An HTTP route's message to every connection of one user.

    Attributes:
        user: The user id (``conn.user_id``), compiled (it may be a template).
        data: The message, encoded like ``conn.send``, compiled.
    """

    user: Template
    data: Template


@dataclass(frozen=True)
class HttpRouteConfig:
    """One entry of the top-level ``http:`` list (see docs/http.md).

    Attributes:
        method: ``GET``, ``POST``... or ``ANY``.
        pattern: The path pattern, matched after the server prefix.
        kind: What the body is: ``json``, ``text``, ``file``, ``handler`` or
            ``empty``.
        content: The JSON value or the text (compiled :class:`Template`), the
            file path (relative to the config folder, with ``{param}``
            placeholders) or the handler ``file.py:function``, by ``kind``.
        status: The response status; None is 200, or 204 for an empty body.
        headers: Extra response headers, in order, their values compiled.
        delay: Wait this long (or a uniform draw in the range) before answering.
        broadcast: A message pushed to sockets on each call (compiled); None for none.
        rooms: Limit ``broadcast`` to the members of these rooms (a compiled list).
        send_to_user: A message pushed to one user's connections on each call.
        bearer: The pattern of a JWT endpoint whose key the request's
            ``Authorization: Bearer`` token must verify against (else 401).
    """

    method: str
    pattern: str
    kind: str = "empty"
    content: Any = None
    status: int | None = None
    headers: tuple[tuple[str, Template], ...] = ()
    delay: DurationRange | None = None
    broadcast: Template | None = None
    rooms: Template | None = None
    send_to_user: SendToUser | None = None
    bearer: str | None = None

    @property
    def route(self) -> str:
        """The route as written: ``METHOD /pattern``."""
        return f"{self.method} {self.pattern}"


@dataclass(frozen=True)
class BrokerConfig:
    """The broker several processes and hosts share rooms through (``broker:``).

    Attributes:
        url: ``redis://host:port/db`` (or ``rediss://``, ``unix://``); may hold a password.
        expiry: Seconds a process's connections and rooms stay listed in the
            broker after it stops refreshing them (a killed worker's vanish then).
        namespace: Prefix of every Redis key and channel, so that separate
            mock setups can share one Redis.
    """

    url: str = field(repr=False)
    expiry: float = 10.0
    namespace: str = "mockws"


@dataclass(frozen=True)
class Config:
    """A whole, validated server config.

    Attributes:
        host: The address to bind; loopback by default.
        port: The TCP port; 0 picks a free one.
        prefix: Prepended to every endpoint pattern.
        reload: Watch handler files and the config, and reload them in place.
        allowed_origins: Origins allowed to connect; None means loopback
            origins only, ``("*",)`` allows every origin.
        endpoints: The endpoints in match priority order.
        http: The HTTP routes, in match priority order.
        admin_token: Required by the admin API and inspector when set; they
            are then served on any address, not only on loopback.
        limits: Server-wide limits (see mockws.config.limits).
        tls: Serve wss:// and https:// with this certificate; None serves ws://.
        template_env: Environment variables templates may read as ``env``.
        asyncapi: The top-level AsyncAPI document whose channels are served.
        broker: The shared broker, or None for in-process fan-out.
        source: The config file, if the config came from one.
        base_dir: The folder relative paths resolve against.
    """

    endpoints: tuple[EndpointConfig, ...] = ()
    http: tuple[HttpRouteConfig, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8765
    prefix: str = ""
    reload: bool = True
    allowed_origins: tuple[str, ...] | None = None
    admin_token: str | None = field(default=None, repr=False)
    limits: ServerLimits = ServerLimits()
    tls: TlsConfig | None = None
    template_env: tuple[str, ...] = ()
    asyncapi: AsyncApiSettings | None = None
    broker: BrokerConfig | None = None
    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    source_map: SourceMap = field(default_factory=SourceMap, compare=False, repr=False)
    # True once config.load built it: a hand-built Config is validated like a dict first.
    validated: bool = field(default=False, compare=False, repr=False)

    def error(self, key: str, message: str) -> ConfigError:
        """Build a ConfigError that points at ``key`` in this config's file."""
        return self.source_map.error(key, message)

    @property
    def spec_files(self) -> tuple[Path, ...]:
        """The AsyncAPI documents the config uses, and every file they reference."""
        files: dict[Path, None] = {}
        if self.asyncapi is not None:
            files[self.asyncapi.file] = None
        for endpoint in self.endpoints:
            if endpoint.asyncapi is not None:
                files.update(dict.fromkeys(endpoint.asyncapi.channel.document.files))
        return tuple(files)

    def endpoint_key(self, endpoint: EndpointConfig) -> str:
        """Return the key path (``endpoints[2]``) of ``endpoint`` in this config."""
        for index, candidate in enumerate(self.endpoints):
            if candidate is endpoint:
                return f"endpoints[{index}]"
        return "endpoints"
