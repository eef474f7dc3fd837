"""Load and validate a mockws config from YAML, Python or a mapping.

Everything after this module trusts the frozen dataclasses it returns:
validation happens here, once, and every error names the file, the line and
the key a user has to fix.
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .limits import EndpointLimits, ServerLimits, parse_endpoint_limits, parse_server_limits
from .router import PatternError, Router, compile_pattern, normalize_prefix
from .yamlsource import SourceMap, load_yaml

__all__ = [
    "DEFAULT_CONFIG_NAMES",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "AuthenticateRef",
    "CompressionConfig",
    "Config",
    "EndpointConfig",
    "JwtConfig",
    "config_from_mapping",
    "find_default_config",
    "load_config",
]

DEFAULT_CONFIG_NAMES = ("mockws.yaml", "mockws.yml", "mockws.py")
DEFAULT_MAX_MESSAGE_SIZE = 1024 * 1024
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_TOKEN_CHARS = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")


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
        handler: A file path (``handlers/chat.py``) or a dotted module name.
        heartbeat: Seconds between server pings; None disables.
        compression: permessage-deflate settings.
        max_message_size: Larger incoming messages close the socket with 1009.
        subprotocols: Offered by the server; the first one the client lists wins.
        parse_json: Text messages that are JSON reach ``on_message`` parsed.
        authenticate: JWT settings, a callable reference, or None for none.
        limits: Connection, slow-client and incoming-message limits (see mockws.limits).
    """

    pattern: str
    handler: str
    heartbeat: float | None = None
    compression: CompressionConfig = CompressionConfig()
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    subprotocols: tuple[str, ...] = ()
    parse_json: bool = True
    authenticate: JwtConfig | AuthenticateRef | None = None
    limits: EndpointLimits = EndpointLimits()


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
        limits: Server-wide limits (see mockws.limits).
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


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


class _Section:
    """Reads the keys of one mapping, checking types and rejecting extras."""

    def __init__(self, data: object, key: str, source: SourceMap, what: str = "a mapping") -> None:
        if not isinstance(data, Mapping):
            raise source.error(key, f"expected {what}, got {_type_name(data)}")
        self._data = data
        self._key = key
        self._source = source
        self._used: set[str] = set()

    def path(self, name: str) -> str:
        return f"{self._key}.{name}" if self._key else name

    def error(self, name: str, message: str) -> ConfigError:
        return self._source.error(self.path(name), message)

    def has(self, name: str) -> bool:
        return name in self._data

    def child(self, name: str, what: str = "a mapping") -> _Section | None:
        value = self.raw(name)
        return None if value is None else _Section(value, self.path(name), self._source, what)

    def raw(self, name: str, default: Any = None) -> Any:
        self._used.add(name)
        return self._data.get(name, default)

    def require(self, name: str) -> Any:
        if name not in self._data:
            raise self._source.error(self._key, f"missing required key '{name}'")
        return self.raw(name)

    def string(
        self, name: str, default: str | None = None, *, required: bool = False
    ) -> str | None:
        value = self.require(name) if required else self.raw(name, default)
        if value is None or value is default:
            return value
        if not isinstance(value, str):
            raise self.error(name, f"expected a string, got {_type_name(value)}")
        return expand_env(value, self._source, self.path(name))

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(name, f"expected true or false, got {_type_name(value)}")
        return value

    def integer(
        self,
        name: str,
        default: int,
        *,
        minimum: int = 0,
        maximum: int | None = None,
        unit: str = "",
    ) -> int:
        value = self.raw(name, default)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"expected a whole number{unit}, got {_type_name(value)}")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise self.error(name, f"expected a number {bound}, got {value}")
        return value

    def seconds(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.error(name, f"expected a number of seconds, got {_type_name(value)}")
        return float(value) if value > 0 else None

    def string_list(self, name: str, *, token: bool = False) -> tuple[str, ...] | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise self.error(name, f"expected a list of strings, got {_type_name(value)}")
        items: list[str] = []
        for index, item in enumerate(value):
            item_key = f"{self.path(name)}[{index}]"
            if not isinstance(item, str):
                raise self._source.error(item_key, f"expected a string, got {_type_name(item)}")
            item = expand_env(item, self._source, item_key)
            if token and not _TOKEN_CHARS.match(item):
                raise self._source.error(item_key, f"{item!r} is not a valid protocol token")
            items.append(item)
        return tuple(items)

    def finish(self, known: tuple[str, ...]) -> None:
        for name in self._data:
            if name in self._used:
                continue
            hint = difflib.get_close_matches(str(name), known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise self.error(str(name), f"unknown key{suggestion}; known keys: {', '.join(known)}")


def expand_env(value: str, source: SourceMap, key: str) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in ``value`` from the environment.

    Raises:
        ConfigError: A referenced variable is unset and has no default.
    """
    if "${" not in value:
        return value

    def substitute(found: re.Match[str]) -> str:
        name, default = found.group(1), found.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise source.error(
            key, f"environment variable {name} is not set (write ${{{name}:-default}} to give one)"
        )

    return _ENV_REFERENCE.sub(substitute, value)


_TOP_KEYS = (
    "host",
    "port",
    "prefix",
    "reload",
    "allowed_origins",
    "admin_token",
    "limits",
    "endpoints",
)
_ENDPOINT_KEYS = (
    "pattern",
    "handler",
    "heartbeat",
    "compression",
    "max_message_size",
    "subprotocols",
    "parse_json",
    "authenticate",
    "limits",
)
_JWT_KEYS = (
    "secret",
    "public_key",
    "algorithms",
    "query_param",
    "audience",
    "issuer",
    "leeway",
    "required_claims",
)


def _parse_compression(section: _Section) -> CompressionConfig:
    value = section.raw("compression")
    if value is None:
        return CompressionConfig()
    if isinstance(value, bool):
        return CompressionConfig(enabled=value)
    inner = _Section(
        value,
        section.path("compression"),
        section._source,
        "true, false or a mapping {enabled, threshold}",
    )
    result = CompressionConfig(
        enabled=inner.boolean("enabled", True),
        threshold=inner.integer("threshold", 1024, unit=" of bytes"),
    )
    inner.finish(("enabled", "threshold"))
    return result


def _parse_jwt(section: _Section, base_dir: Path) -> JwtConfig:
    jwt = _Section(section.raw("jwt"), section.path("jwt"), section._source)
    secret = jwt.string("secret")
    public_key = jwt.string("public_key")
    if (secret is None) == (public_key is None):
        raise section.error("jwt", "give exactly one of 'secret' or 'public_key'")
    algorithms = jwt.string_list("algorithms")
    if not algorithms:
        raise jwt.error("algorithms", "required: list the accepted algorithms, e.g. [HS256]")
    if "none" in (name.lower() for name in algorithms):
        raise jwt.error("algorithms", "'none' is not an acceptable algorithm")
    key_path = None
    if public_key is not None:
        key_path = (base_dir / public_key).resolve()
        if not key_path.is_file():
            raise jwt.error("public_key", f"no such key file: {key_path}")
    leeway = jwt.seconds("leeway")
    result = JwtConfig(
        algorithms=algorithms,
        secret=secret,
        public_key=key_path,
        query_param=jwt.string("query_param", "token") or "token",
        audience=jwt.string("audience"),
        issuer=jwt.string("issuer"),
        leeway=leeway or 0.0,
        required_claims=jwt.string_list("required_claims") or (),
    )
    jwt.finish(_JWT_KEYS)
    return result


def _parse_authenticate(section: _Section, base_dir: Path) -> JwtConfig | AuthenticateRef | None:
    value = section.raw("authenticate")
    if value is None:
        return None
    if isinstance(value, str):
        target = expand_env(value, section._source, section.path("authenticate"))
        return AuthenticateRef(target)
    inner = _Section(
        value,
        section.path("authenticate"),
        section._source,
        "'path.py:function' or a mapping {jwt: {...}}",
    )
    result = _parse_jwt(inner, base_dir)
    inner.finish(("jwt",))
    return result


def _parse_endpoint(data: object, key: str, source: SourceMap, base_dir: Path) -> EndpointConfig:
    section = _Section(data, key, source)
    pattern = section.string("pattern", required=True)
    assert pattern is not None
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise section.error("pattern", str(exc)) from None
    handler = section.string("handler", required=True)
    if not handler:
        raise section.error("handler", "expected a file path or a dotted module name")
    endpoint = EndpointConfig(
        pattern=pattern,
        handler=handler,
        heartbeat=section.seconds("heartbeat"),
        compression=_parse_compression(section),
        max_message_size=section.integer(
            "max_message_size", DEFAULT_MAX_MESSAGE_SIZE, minimum=1, unit=" of bytes"
        ),
        subprotocols=section.string_list("subprotocols", token=True) or (),
        parse_json=section.boolean("parse_json", True),
        authenticate=_parse_authenticate(section, base_dir),
        limits=parse_endpoint_limits(section),
    )
    section.finish(_ENDPOINT_KEYS)
    return endpoint


def config_from_mapping(
    data: object,
    *,
    base_dir: Path | None = None,
    source: Path | None = None,
    source_map: SourceMap | None = None,
) -> Config:
    """Validate plain data (parsed YAML or a Python dict) into a Config.

    Args:
        data: A mapping of the documented shape.
        base_dir: The folder relative paths resolve against (default: the
            source file's folder, else the working folder).
        source: The file the data came from, for error messages.
        source_map: Line numbers of the keys in ``source``.

    Raises:
        ConfigError: A key is unknown, has the wrong type, or a pattern is bad.
    """
    source_map = source_map or SourceMap(file=source)
    if base_dir is None:
        base_dir = source.parent if source is not None else Path.cwd()
    base_dir = base_dir.resolve()
    top = _Section({} if data is None else data, "", source_map, "a mapping at the top level")
    prefix = top.string("prefix", "") or ""
    try:
        prefix = normalize_prefix(prefix)
    except PatternError as exc:
        raise top.error("prefix", str(exc)) from None
    endpoints_data = top.raw("endpoints", [])
    if not isinstance(endpoints_data, (list, tuple)):
        raise top.error(
            "endpoints", f"expected a list of endpoints, got {_type_name(endpoints_data)}"
        )
    endpoints = tuple(
        _parse_endpoint(item, f"endpoints[{index}]", source_map, base_dir)
        for index, item in enumerate(endpoints_data)
    )
    _check_duplicates(endpoints, source_map)
    config = Config(
        endpoints=endpoints,
        host=top.string("host", "127.0.0.1") or "127.0.0.1",
        port=top.integer("port", 8765, maximum=65535),
        prefix=prefix,
        reload=top.boolean("reload", True),
        allowed_origins=top.string_list("allowed_origins"),
        admin_token=_admin_token(top),
        limits=parse_server_limits(top),
        source=source,
        base_dir=base_dir,
        source_map=source_map,
    )
    top.finish(_TOP_KEYS)
    return config


def _admin_token(top: _Section) -> str | None:
    # Empty means none, so `admin_token: ${MOCKWS_ADMIN_TOKEN:-}` makes the token optional.
    token = top.string("admin_token")
    return token if token and token.strip() else None


def _check_duplicates(endpoints: tuple[EndpointConfig, ...], source: SourceMap) -> None:
    for index in range(len(endpoints)):
        try:
            Router("", ((endpoint.pattern, None) for endpoint in endpoints[: index + 1]))
        except PatternError as exc:
            raise source.error(f"endpoints[{index}].pattern", str(exc)) from None


def _python_config_line(path: Path) -> int | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else ([node.target] if isinstance(node, ast.AnnAssign) else [])
        )
        if any(isinstance(target, ast.Name) and target.id == "config" for target in targets):
            return node.lineno
    return None


def _load_python_config(path: Path) -> Config:
    try:
        namespace = runpy.run_path(str(path))
    except SyntaxError as exc:
        raise ConfigError(f"SyntaxError: {exc.msg}", file=path, line=exc.lineno) from None
    except Exception as exc:  # noqa: BLE001 - any failure of user code is a config error
        raise ConfigError(
            f"running the config raised {type(exc).__name__}: {exc}", file=path
        ) from None
    if "config" not in namespace:
        raise ConfigError(
            "a Python config must define 'config' (a mockws.Config or a dict)", file=path
        )
    value = namespace["config"]
    source_map = SourceMap(file=path, default_line=_python_config_line(path))
    if isinstance(value, Config):
        base_dir = value.base_dir if value.source is not None else path.parent.resolve()
        return Config(
            **{**value.__dict__, "source": path, "base_dir": base_dir, "source_map": source_map}
        )
    return config_from_mapping(value, source=path, source_map=source_map)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Load and validate the config file at ``path`` (``.yaml``, ``.yml`` or ``.py``).

    Raises:
        ConfigError: The file is missing, unreadable or invalid.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise ConfigError("config file not found", file=Path(path))
    if file.suffix == ".py":
        return _load_python_config(file)
    if file.suffix not in (".yaml", ".yml"):
        raise ConfigError("a config file must end in .yaml, .yml or .py", file=file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config: {exc}", file=file) from None
    data, source_map = load_yaml(text, file)
    return config_from_mapping(data, source=file, source_map=source_map)


def find_default_config(folder: Path | None = None) -> Path | None:
    """Return the first of ``mockws.yaml``, ``mockws.yml``, ``mockws.py`` in ``folder``."""
    folder = folder or Path.cwd()
    for name in DEFAULT_CONFIG_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
