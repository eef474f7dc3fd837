"""Load and validate a mockws config from YAML, Python or a mapping.

Everything after this module trusts the frozen dataclasses it returns:
validation happens here, once, and every error names the file, the line and
the key a user has to fix.
"""

from __future__ import annotations

import ast
import logging
import os
import runpy
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError
from .asyncapi import SpecCache, parse_asyncapi, parse_endpoint_asyncapi, spec_endpoints
from .asyncapi_model import AsyncApiSettings
from .broker import parse_broker
from .faults import parse_faults
from .http import parse_http_routes
from .keys import KeyReader, describe_value, expand_env
from .limits import parse_endpoint_limits, parse_server_limits
from .model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    SOCKETIO,
    AuthenticateRef,
    CompressionConfig,
    Config,
    EndpointConfig,
    JwtConfig,
    socketio_route,
)
from .objects import config_as_mapping
from .patterns import (
    DuplicatePattern,
    PatternError,
    compile_distinct,
    compile_pattern,
    normalize_prefix,
)
from .proxy import parse_proxy, parse_record, parse_replay
from .rules_load import BEHAVIOUR_KEYS as RULE_KEYS
from .rules_load import parse_behaviour, parse_upstream_rules
from .socketio import check_event_steps, parse_protocol
from .template_names import environment_subset
from .tls import parse_tls
from .yaml_source import SourceMap, load_yaml

__all__ = [
    "BEHAVIOUR_KEYS",
    "DEFAULT_CONFIG_NAMES",
    "ENDPOINT_KEYS",
    "TOP_KEYS",
    "check_behaviour",
    "config_from_mapping",
    "find_default_config",
    "load_config",
]

DEFAULT_CONFIG_NAMES = ("mockws.yaml", "mockws.yml", "mockws.py")


TOP_KEYS = (
    "host",
    "port",
    "prefix",
    "reload",
    "allowed_origins",
    "admin_token",
    "limits",
    "endpoints",
    "tls",
    "asyncapi",
    "http",
    "template_env",
    "broker",
)
ENDPOINT_KEYS = (
    "pattern",
    "handler",
    "heartbeat",
    "compression",
    "max_message_size",
    "subprotocols",
    "parse_json",
    "authenticate",
    "limits",
    "asyncapi",
    "protocol",
    "namespaces",
    *RULE_KEYS,
    "faults",
    "proxy",
    "record",
    "record_limit",
    "replay",
    "upstream_rules",
)
# The endpoint keys that give it something to do; an endpoint needs at least one.
# A feature that makes an endpoint useful on its own adds its key here.
BEHAVIOUR_KEYS = (
    "handler",
    *RULE_KEYS,
    "asyncapi",
    "proxy",
    "replay",
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


def _parse_compression(section: KeyReader) -> CompressionConfig:
    value = section.raw("compression")
    if value is None:
        return CompressionConfig()
    if isinstance(value, bool):
        return CompressionConfig(enabled=value)
    inner = KeyReader(
        value,
        section.path("compression"),
        section.source,
        "true, false or a mapping {enabled, threshold}",
    )
    result = CompressionConfig(
        enabled=inner.boolean("enabled", True),
        threshold=inner.integer("threshold", 1024, unit=" of bytes"),
    )
    inner.finish(("enabled", "threshold"))
    return result


# Bytes of secret each HMAC algorithm needs to be as strong as its hash.
_HMAC_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
config_log = logging.getLogger("mockws.config")


def _parse_jwt(section: KeyReader, base_dir: Path) -> JwtConfig:
    jwt = KeyReader(section.raw("jwt"), section.path("jwt"), section.source)
    jwt.reject_unknown(_JWT_KEYS)
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
    if secret is not None:
        _warn_short_secret(jwt, secret, algorithms)
    return result


def _warn_short_secret(jwt: KeyReader, secret: str, algorithms: tuple[str, ...]) -> None:
    """Warn when an HMAC secret is shorter than its algorithm's hash (RFC 7518 3.2)."""
    needed = max((_HMAC_BYTES.get(name.upper(), 0) for name in algorithms), default=0)
    size = len(secret.encode("utf-8", "surrogateescape"))
    if size < needed:
        warning = jwt.error(
            "secret",
            f"an HMAC secret for {', '.join(algorithms)} should be at least {needed} bytes, "
            f"this one is {size}: tokens signed with it are easy to forge",
        )
        config_log.warning("%s", warning)


def _parse_authenticate(section: KeyReader, base_dir: Path) -> JwtConfig | AuthenticateRef | None:
    value = section.raw("authenticate")
    if value is None:
        return None
    if isinstance(value, str):
        target = expand_env(value, section.source, section.path("authenticate"))
        return AuthenticateRef(target)
    inner = KeyReader(
        value,
        section.path("authenticate"),
        section.source,
        "'path.py:function' or a mapping {jwt: {...}}",
    )
    result = _parse_jwt(inner, base_dir)
    inner.finish(("jwt",))
    return result


def _parse_endpoint(
    data: object,
    key: str,
    source: SourceMap,
    base_dir: Path,
    env: dict[str, str],
    spec: tuple[AsyncApiSettings | None, SpecCache] | None = None,
) -> EndpointConfig:
    section = KeyReader(data, key, source)
    section.reject_unknown(ENDPOINT_KEYS)
    pattern = section.string("pattern", required=True)
    assert pattern is not None
    protocol, namespaces = parse_protocol(section)
    try:
        compile_pattern(socketio_route(pattern) if protocol == SOCKETIO else pattern)
    except PatternError as exc:
        raise section.error("pattern", str(exc)) from None
    check_behaviour(section)
    handler = section.string("handler")
    if handler is not None and not handler:
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
        protocol=protocol,
        namespaces=namespaces,
        behaviour=parse_behaviour(section, base_dir, env),
        asyncapi=parse_endpoint_asyncapi(
            section,
            base_dir,
            *(spec or (None, {})),
            played=not any(section.has(name) for name in BEHAVIOUR_KEYS if name != "asyncapi"),
        ),
        faults=parse_faults(section),
        proxy=parse_proxy(section, pattern),
        record=parse_record(section, base_dir),
        replay=parse_replay(section, base_dir),
        upstream_rules=parse_upstream_rules(section, base_dir, env),
    )
    check_event_steps(endpoint.behaviour, protocol, source)
    if endpoint.socketio and endpoint.faults is not None and endpoint.faults.stall is not None:
        raise section.error(
            "faults",
            "stall is not available on a Socket.IO endpoint: Engine.IO answers the "
            "client's heartbeat itself (latency, drop, disconnect and refuse are)",
        )
    _check_proxy(section, endpoint)
    section.finish(ENDPOINT_KEYS)
    return endpoint


def _check_proxy(section: KeyReader, endpoint: EndpointConfig) -> None:
    if endpoint.upstream_rules is not None and endpoint.proxy is None:
        raise section.error("upstream_rules", "only a proxied endpoint has an upstream")
    if endpoint.proxy is not None and endpoint.replay is not None:
        raise section.error("replay", "an endpoint either proxies or replays: not both")
    if endpoint.proxy is not None and endpoint.subprotocols:
        raise section.error(
            "subprotocols",
            "a proxied endpoint takes its subprotocols from the upstream: "
            "use proxy.subprotocols (forward, or a list to offer upstream)",
        )


def check_behaviour(section: KeyReader) -> None:
    """Refuse an endpoint that sets none of :data:`BEHAVIOUR_KEYS`.

    Raises:
        ConfigError: At the endpoint's key, naming what it could be given.
    """
    if any(section.has(name) for name in BEHAVIOUR_KEYS):
        return
    names = ", ".join(f"'{name}'" for name in BEHAVIOUR_KEYS)
    raise section.source.error(
        section.key, f"an endpoint needs something to serve it: give one of {names}"
    )


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
    top = KeyReader({} if data is None else data, "", source_map, "a mapping at the top level")
    prefix = top.string("prefix", "") or ""
    try:
        prefix = normalize_prefix(prefix)
    except PatternError as exc:
        raise top.error("prefix", str(exc)) from None
    endpoints_data = top.raw("endpoints", [])
    if not isinstance(endpoints_data, (list, tuple)):
        raise top.error(
            "endpoints", f"expected a list of endpoints, got {describe_value(endpoints_data)}"
        )
    template_env = top.string_list("template_env") or ()
    env = environment_subset(template_env)
    asyncapi = parse_asyncapi(top, base_dir)
    specs: SpecCache = {}
    endpoints = tuple(
        _parse_endpoint(item, f"endpoints[{index}]", source_map, base_dir, env, (asyncapi, specs))
        for index, item in enumerate(endpoints_data)
    )
    _check_duplicates(endpoints, source_map)
    if asyncapi is not None:
        endpoints += spec_endpoints(asyncapi, specs, {e.pattern for e in endpoints})
    config = Config(
        endpoints=endpoints,
        http=parse_http_routes(top.raw("http"), source_map, base_dir, endpoints),
        host=top.string("host", "127.0.0.1") or "127.0.0.1",
        port=top.integer("port", 8765, maximum=65535),
        prefix=prefix,
        reload=top.boolean("reload", True),
        allowed_origins=top.string_list("allowed_origins"),
        admin_token=_admin_token(top),
        limits=parse_server_limits(top),
        tls=parse_tls(top, base_dir),
        asyncapi=asyncapi,
        template_env=template_env,
        broker=parse_broker(top),
        source=source,
        base_dir=base_dir,
        source_map=source_map,
        validated=True,
    )
    top.finish(TOP_KEYS)
    return config


def _admin_token(top: KeyReader) -> str | None:
    # Empty means none, so `admin_token: ${MOCKWS_ADMIN_TOKEN:-}` makes the token optional.
    token = top.string("admin_token")
    return token if token and token.strip() else None


def _check_duplicates(endpoints: tuple[EndpointConfig, ...], source: SourceMap) -> None:
    try:
        compile_distinct(endpoint.route_pattern for endpoint in endpoints)
    except DuplicatePattern as exc:
        raise source.error(f"endpoints[{exc.index}].pattern", str(exc)) from None


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
    except SystemExit as exc:
        # sys.exit(0) in a config would otherwise end `mockws check` with 0, having checked nothing.
        raise ConfigError(
            f"the config called sys.exit({exc.code!r}) while it was loaded; "
            "a config must define 'config', not exit",
            file=path,
        ) from None
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
    if isinstance(value, Config) and value.validated:
        return replace(value, source=path, source_map=source_map)
    if isinstance(value, Config):
        # Validated like a dict: the dataclasses themselves accept any value.
        base_dir = value.base_dir if value.source is not None else path.parent.resolve()
        return config_from_mapping(
            config_as_mapping(value), base_dir=base_dir, source=path, source_map=source_map
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
