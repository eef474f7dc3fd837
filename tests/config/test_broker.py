"""The `broker:` key (mockws/config/broker.py)."""

from __future__ import annotations

import pytest

from mockws.config.broker import mask_broker_url
from mockws.config.load import config_from_mapping
from mockws.config.model import BrokerConfig
from mockws.errors import ConfigError


def test_absent_is_in_process_and_a_url_takes_the_defaults() -> None:
    assert config_from_mapping({}).broker is None
    assert config_from_mapping({"broker": "redis://h:1/2"}).broker == BrokerConfig(
        url="redis://h:1/2", expiry=10.0, namespace="mockws"
    )


def test_a_mapping_sets_expiry_and_namespace() -> None:
    broker = config_from_mapping(
        {"broker": {"url": "rediss://h/0", "expiry": "30s", "namespace": "team-a"}}
    ).broker
    assert broker == BrokerConfig(url="rediss://h/0", expiry=30.0, namespace="team-a")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://h:1", "broker: expected a redis://host:port/db URL"),
        (5, "broker: expected a redis:// URL or a mapping with 'url', got the number 5"),
        ({"expiry": 3}, "broker: missing required key 'url'"),
        ({"url": "redis://h", "expiry": 0.5}, "broker.expiry: expected at least 1s"),
        (
            {"url": "redis://h", "namespce": "x"},
            "broker.namespce: unknown key (did you mean 'namespace'?)",
        ),
    ],
)
def test_bad_values_name_the_key(value: object, message: str) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        config_from_mapping({"broker": value})


def test_a_password_never_reaches_the_error_or_the_repr() -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_mapping({"broker": "http://:pw123@h:1"})
    assert "pw123" not in str(raised.value)
    config = config_from_mapping({"broker": "redis://user:pw123@h:1/0"})
    assert "pw123" not in repr(config)
    assert mask_broker_url("redis://user:pw123@h:1/0") == "redis://user:***@h:1/0"
    assert mask_broker_url("redis://h:1/0") == "redis://h:1/0"
