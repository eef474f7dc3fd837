"""Property-based tests of the config loader (mockws/config/load.py, mockws/config/yaml_source.py).

Pattern compilation and matching have theirs in tests/server/test_router.py.
Run longer with ``HYPOTHESIS_PROFILE=fuzz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from mockws.config import Config, config_from_mapping
from mockws.config.load import ENDPOINT_KEYS, TOP_KEYS
from mockws.config.yaml_source import load_yaml
from mockws.errors import ConfigError

SOURCE = Path("/project/dev.yaml")
BASE = Path("/project")

segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=6)
pattern = st.lists(segment, max_size=4).map(
    # Even-numbered parts become placeholders, named uniquely by their position.
    lambda parts: "/" + "/".join(f"{{p{i}}}" if i % 2 else p for i, p in enumerate(parts))
)
seconds = st.one_of(st.integers(0, 3600), st.floats(0, 3600, allow_nan=False))
counts = st.one_of(st.none(), st.integers(0, 10**6))

endpoint_limits = st.fixed_dictionaries(
    {},
    optional={
        "max_connections": counts,
        "send_high_water": st.integers(1, 2**30),
        "slow_client_timeout": seconds,
        "slow_client_max_dropped": counts,
    },
)
endpoint = st.fixed_dictionaries(
    {"pattern": pattern, "handler": st.sampled_from(["h.py", "pkg.mod", "dir/h.py"])},
    optional={
        "heartbeat": seconds,
        "max_message_size": st.integers(1, 2**31),
        "parse_json": st.booleans(),
        "subprotocols": st.lists(st.sampled_from(["chat.v1", "json", "x-y"]), max_size=3),
        "compression": st.one_of(
            st.booleans(),
            st.fixed_dictionaries(
                {}, optional={"enabled": st.booleans(), "threshold": st.integers(0, 10**6)}
            ),
        ),
        "limits": endpoint_limits,
    },
)
server_limits = st.fixed_dictionaries(
    {},
    optional={
        "max_connections": counts,
        "handshake_timeout": seconds,
        "max_header_size": st.integers(1024, 2**20),
        "slow_hook_warning": seconds,
    },
)
valid_config = st.fixed_dictionaries(
    {"endpoints": st.lists(endpoint, max_size=4, unique_by=lambda e: e["pattern"])},
    optional={
        "host": st.sampled_from(["127.0.0.1", "::1", "localhost"]),
        "port": st.integers(0, 65535),
        "prefix": st.sampled_from(["", "/", "/api", "/api/v1/"]),
        "reload": st.booleans(),
        "allowed_origins": st.lists(st.sampled_from(["*", "http://localhost:5173"]), max_size=2),
        "limits": server_limits,
    },
)
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from([*TOP_KEYS, *ENDPOINT_KEYS, "x"]), children, max_size=4)
    ),
    max_leaves=12,
)


def _shape_differs(config: dict[str, Any]) -> bool:
    """Two patterns that differ only in placeholder names are rejected as duplicates."""
    shapes = [
        "/".join("{}" if part.startswith("{") else part for part in e["pattern"].split("/"))
        for e in config["endpoints"]
    ]
    return len(shapes) == len(set(shapes))


@given(valid_config.filter(_shape_differs))
def test_valid_configs_load_and_keep_their_values(data: dict[str, Any]) -> None:
    """Any config of the documented shape loads, keeping every endpoint in order."""
    config = config_from_mapping(data, base_dir=BASE, source=SOURCE)
    assert isinstance(config, Config)
    assert [e.pattern for e in config.endpoints] == [e["pattern"] for e in data["endpoints"]]
    for loaded, given_endpoint in zip(config.endpoints, data["endpoints"], strict=True):
        if "max_message_size" in given_endpoint:
            assert loaded.max_message_size == given_endpoint["max_message_size"]
        limits = given_endpoint.get("limits", {})
        if limits.get("send_high_water"):
            assert loaded.limits.send_high_water == limits["send_high_water"]
    if data.get("limits", {}).get("max_header_size"):
        assert config.limits.max_header_size == data["limits"]["max_header_size"]


@given(valid_config.filter(_shape_differs), st.data())
def test_yaml_text_of_a_valid_config_loads_the_same(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    """Dumping a valid config to YAML and loading it gives the same config."""
    text = yaml.safe_dump(data, default_flow_style=draw.draw(st.booleans()))
    parsed, source_map = load_yaml(text, SOURCE)
    from_yaml = config_from_mapping(parsed, base_dir=BASE, source=SOURCE, source_map=source_map)
    assert from_yaml == config_from_mapping(data, base_dir=BASE, source=SOURCE)


@given(valid_config.filter(_shape_differs), st.data())
def test_an_unknown_key_anywhere_is_named(data: dict[str, Any], draw: st.DataObject) -> None:
    """An unknown key at the top level or in an endpoint is an error naming its path."""
    bad = draw.draw(st.text(alphabet="qwxz", min_size=3, max_size=6))
    if data["endpoints"] and draw.draw(st.booleans()):
        index = draw.draw(st.integers(0, len(data["endpoints"]) - 1))
        data["endpoints"][index][bad] = 1
        key = f"endpoints[{index}].{bad}"
    else:
        data[bad] = 1
        key = bad
    try:
        config_from_mapping(data, base_dir=BASE, source=SOURCE)
    except ConfigError as error:
        assert error.key == key and "unknown key" in error.message
    else:
        raise AssertionError(f"{key} was accepted")


@given(json_like)
def test_any_data_loads_or_raises_config_error(data: Any) -> None:
    """Arbitrary nested data either loads or raises ConfigError, never another exception."""
    try:
        config_from_mapping(data, base_dir=BASE, source=SOURCE)
    except ConfigError as error:
        assert str(error).startswith(str(SOURCE)) or "dev.yaml" in str(error)


@given(st.text(max_size=200))
def test_any_text_parses_or_raises_config_error(text: str) -> None:
    """Arbitrary text as a YAML config either loads or raises ConfigError naming the file."""
    try:
        parsed, source_map = load_yaml(text, SOURCE)
        config_from_mapping(parsed, base_dir=BASE, source=SOURCE, source_map=source_map)
    except ConfigError as error:
        assert "dev.yaml" in str(error)
