"""The frozen config dataclasses (mockws/config/model.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mockws.config import config_from_mapping
from mockws.config.limits import EndpointLimits, ServerLimits
from mockws.config.model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    AuthenticateRef,
    CompressionConfig,
    Config,
    EndpointConfig,
    JwtConfig,
)
from mockws.config.yaml_source import SourceMap, load_yaml

FILE = Path("/project/dev.yaml")

TEXT = """\
port: 0
endpoints:
  - pattern: /ws/chat
    handler: chat.py
  - pattern: /ws/feed
    handler: feed.py
    heartbeat: 5
"""


def loaded() -> Config:
    """TEXT as load_config would build it, without touching the disk."""
    data, source = load_yaml(TEXT, FILE)
    return config_from_mapping(data, base_dir=FILE.parent, source=FILE, source_map=source)


def test_config_defaults() -> None:
    """A bare Config serves on loopback port 8765 with reload on and no endpoints."""
    config = Config()
    assert config.endpoints == ()
    assert (config.host, config.port, config.prefix) == ("127.0.0.1", 8765, "")
    assert config.reload is True
    assert config.allowed_origins is None and config.admin_token is None
    assert config.limits == ServerLimits()
    assert config.source is None
    assert config.base_dir == Path.cwd()


def test_endpoint_defaults() -> None:
    """An endpoint has no heartbeat, no compression, 1 MiB messages and parses JSON."""
    endpoint = EndpointConfig(pattern="/a", handler="a.py")
    assert endpoint.heartbeat is None
    assert endpoint.compression == CompressionConfig(enabled=False, threshold=1024)
    assert endpoint.max_message_size == DEFAULT_MAX_MESSAGE_SIZE == 1024 * 1024
    assert endpoint.subprotocols == ()
    assert endpoint.parse_json is True
    assert endpoint.authenticate is None
    assert endpoint.limits == EndpointLimits()


def test_jwt_defaults_and_the_secret_stays_out_of_repr() -> None:
    """JwtConfig reads ?token= by default and never shows its secret in repr."""
    jwt = JwtConfig(algorithms=("HS256",), secret="hunter2-secret")
    assert (jwt.query_param, jwt.audience, jwt.issuer) == ("token", None, None)
    assert (jwt.leeway, jwt.required_claims, jwt.public_key) == (0.0, (), None)
    assert "hunter2-secret" not in repr(jwt)
    assert "HS256" in repr(jwt)


def test_admin_token_and_source_map_stay_out_of_repr() -> None:
    """A Config's repr shows neither its admin token nor its line map."""
    text = repr(Config(admin_token="t0p-s3cret", source_map=SourceMap(lines={"zzkey": 1})))
    assert "t0p-s3cret" not in text
    assert "zzkey" not in text


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (Config(), "port"),
        (EndpointConfig(pattern="/a", handler="a.py"), "heartbeat"),
        (CompressionConfig(), "enabled"),
        (JwtConfig(algorithms=("HS256",)), "secret"),
        (AuthenticateRef("auth.py:check"), "target"),
    ],
)
def test_config_objects_are_frozen(value: object, field: str) -> None:
    """Assigning to a field of any config object raises FrozenInstanceError."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(value, field, 1)


def test_replace_makes_a_new_config_and_leaves_the_old_one() -> None:
    """dataclasses.replace gives a changed copy; the original keeps its values."""
    config = Config(port=1)
    changed = dataclasses.replace(config, port=2)
    assert (config.port, changed.port) == (1, 2)


def test_equal_configs_ignore_the_line_map_and_hash_alike() -> None:
    """Two configs with the same values are equal and hash alike, whatever their line maps."""
    base = Path("/project")
    one = Config(port=1, base_dir=base, source_map=SourceMap(lines={"port": 1}))
    two = Config(port=1, base_dir=base, source_map=SourceMap(lines={"port": 9}))
    assert one == two
    assert hash(one) == hash(two)
    assert one != dataclasses.replace(two, port=2)


def test_endpoint_key_is_the_index_of_that_endpoint() -> None:
    """endpoint_key gives endpoints[i] for the i-th endpoint object of the config."""
    config = loaded()
    assert [config.endpoint_key(e) for e in config.endpoints] == ["endpoints[0]", "endpoints[1]"]


def test_endpoint_key_of_a_foreign_endpoint_is_the_list() -> None:
    """An endpoint that is not one of the config's points at the endpoints list."""
    assert loaded().endpoint_key(EndpointConfig(pattern="/x", handler="x.py")) == "endpoints"


def test_error_points_into_the_file() -> None:
    """Config.error names the config file, the key's line and the key."""
    config = loaded()
    key = f"{config.endpoint_key(config.endpoints[1])}.handler"
    error = config.error(key, "cannot load 'feed.py'")
    assert (error.file, error.line, error.key) == (FILE, 6, "endpoints[1].handler")
    assert str(error) == "/project/dev.yaml:6: endpoints[1].handler: cannot load 'feed.py'"


def test_error_for_an_unset_key_points_at_its_endpoint() -> None:
    """A key the file does not set is reported at the line of its endpoint."""
    error = loaded().error("endpoints[0].authenticate", "bad")
    assert error.line == 3


def test_error_of_a_config_built_in_code_has_no_line() -> None:
    """A Config made in Python has no file or line to point at."""
    error = Config().error("endpoints[0].handler", "cannot load it")
    assert (error.file, error.line) == (None, None)
    assert str(error) == "<config>: endpoints[0].handler: cannot load it"
