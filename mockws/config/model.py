"""The validated, frozen shape of a config: what the rest of mockws trusts.

:mod:`mockws.config.load` builds these from YAML, Python or a mapping and
checks everything once; no other module validates config values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .limits import EndpointLimits, ServerLimits
from .proxy import ProxyConfig, RecordConfig, ReplayConfig
from .rules import Behaviour
from .yaml_source import SourceMap

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "AuthenticateRef",
    "CompressionConfig",
    "Config",
    "EndpointConfig",
    "JwtConfig",
]

DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024


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
        proxy: Forward each connection to an upstream (see mockws.config.proxy).
        record: Record every frame both ways to JSON Lines.
        replay: Play a recording back instead of serving live.
        behaviour: ``on_connect``, ``rules``, ``every`` and ``script`` (see
            mockws.config.rules); None when the endpoint has none.
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
    proxy: ProxyConfig | None = None
    record: RecordConfig | None = None
    replay: ReplayConfig | None = None
    behaviour: Behaviour | None = None
    upstream_rules: Behaviour | None = None


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
        admin_token: Required by the admin API and inspector when set; they
            are then served on any address, not only on loopback.
        limits: Server-wide limits (see mockws.config.limits).
        template_env: Environment variables templates may read as ``env``.
        source: The config file, if the config came from one.
        base_dir: The folder relative paths resolve against.
    """

    endpoints: tuple[EndpointConfig, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8765
    prefix: str = ""
    reload: bool = True
    allowed_origins: tuple[str, ...] | None = None
    admin_token: str | None = field(default=None, repr=False)
    limits: ServerLimits = ServerLimits()
    template_env: tuple[str, ...] = ()
    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    source_map: SourceMap = field(default_factory=SourceMap, compare=False, repr=False)

    def error(self, key: str, message: str) -> ConfigError:
        """Build a ConfigError that points at ``key`` in this config's file."""
        return self.source_map.error(key, message)

    def endpoint_key(self, endpoint: EndpointConfig) -> str:
        """Return the key path (``endpoints[2]``) of ``endpoint`` in this config."""
        for index, candidate in enumerate(self.endpoints):
            if candidate is endpoint:
                return f"endpoints[{index}]"
        return "endpoints"
