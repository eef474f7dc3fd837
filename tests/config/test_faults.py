"""Validation of an endpoint's ``faults`` key and of run-time faults (mockws/config/faults.py)."""

from __future__ import annotations

from typing import Any

import pytest

from mockws.config.durations import DurationRange
from mockws.config.faults import (
    ConnectionFault,
    DisconnectFault,
    FaultsConfig,
    RefuseFault,
    Trigger,
    connection_fault_from_data,
    faults_from_data,
)
from mockws.config.load import config_from_mapping, load_config
from mockws.errors import ConfigError


def faults_of(faults: Any) -> FaultsConfig | None:
    config = config_from_mapping(
        {"endpoints": [{"pattern": "/ws", "handler": "h.py", "faults": faults}]}
    )
    return config.endpoints[0].faults


def test_every_fault_key_reads_into_the_frozen_config() -> None:
    """The API.md example reads into FaultsConfig, field by field."""
    faults = faults_of(
        {
            "latency": ["20ms", "200ms"],
            "drop": 0.05,
            "disconnect": {"after": 20, "code": 1011},
            "refuse": {"next": 3, "status": 503},
            "stall": {"after": "10s"},
            "seed": 42,
        }
    )
    assert faults == FaultsConfig(
        latency=DurationRange(0.02, 0.2),
        drop=0.05,
        disconnect=DisconnectFault(after=Trigger(messages=20), code=1011),
        refuse=RefuseFault(next=3, status=503),
        stall=Trigger(seconds=10.0),
        seed=42,
    )
    assert faults is not None and faults.outbound


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"latency": "50ms"}, FaultsConfig(latency=DurationRange(0.05, 0.05))),
        ({"latency": 0}, None),
        ({"drop": "25%"}, FaultsConfig(drop=0.25)),
        (
            {"disconnect": {"after": "30s"}},
            FaultsConfig(disconnect=DisconnectFault(Trigger(seconds=30.0))),
        ),
        (
            {"disconnect": {"after": "5", "code": "abort"}},
            FaultsConfig(disconnect=DisconnectFault(Trigger(messages=5))),
        ),
        ({"refuse": 2}, FaultsConfig(refuse=RefuseFault(next=2))),
        ({"refuse": {"next": 0}}, None),
        ({"stall": True}, FaultsConfig(stall=Trigger(seconds=0.0))),
        ({"stall": False}, None),
        ({"seed": 1}, None),
        ({}, None),
    ],
)
def test_shorthands_and_empty_faults(given: dict[str, Any], expected: FaultsConfig | None) -> None:
    """Shorthands (refuse: N, stall: true, drop as a percentage); no-op faults are None."""
    assert faults_of(given) == expected


@pytest.mark.parametrize(
    ("given", "key", "message"),
    [
        ({"latncy": "1s"}, "faults.latncy", "did you mean 'latency'"),
        ({"latency": "fast"}, "faults.latency", "expected a duration"),
        ({"latency": ["2s", "1s"]}, "faults.latency", "above its high end"),
        ({"drop": 1.5}, "faults.drop", "expected a probability"),
        ({"drop": True}, "faults.drop", "expected a probability"),
        ({"disconnect": {"code": 1000}}, "faults.disconnect", "missing required key 'after'"),
        ({"disconnect": {"after": 2.5}}, "faults.disconnect.after", "whole number of messages"),
        ({"disconnect": {"after": -1}}, "faults.disconnect.after", "whole number of messages"),
        ({"disconnect": {"after": "²"}}, "faults.disconnect.after", "whole number of messages"),
        ({"disconnect": {"after": 1, "code": 99}}, "faults.disconnect.code", "close code"),
        (
            {"disconnect": {"after": 1, "reason": "x" * 124}},
            "faults.disconnect.reason",
            "123 bytes",
        ),
        ({"refuse": {"status": 503}}, "faults.refuse", "missing required key 'next'"),
        ({"refuse": {"next": 1, "status": 200}}, "faults.refuse.status", "between 400 and 599"),
        ({"stall": {}}, "faults.stall", "missing required key 'after'"),
        ({"stall": "soon"}, "faults.stall", "expected true or a mapping"),
        ({"seed": "x"}, "faults.seed", "whole number"),
        ("lots", "faults", "a mapping of faults"),
    ],
)
def test_bad_faults_name_the_key(given: Any, key: str, message: str) -> None:
    """Each mistake is a ConfigError naming the key under the endpoint."""
    with pytest.raises(ConfigError) as error:
        faults_of(given)
    assert error.value.key == f"endpoints[0].{key}"
    assert message in error.value.message


def test_a_yaml_error_names_file_and_line(tmp_path: Any) -> None:
    """A bad fault in a YAML file points at its line."""
    path = tmp_path / "mockws.yaml"
    path.write_text("endpoints:\n  - pattern: /ws\n    handler: h.py\n    faults:\n      drop: 2\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.line == 5 and error.value.key == "endpoints[0].faults.drop"


def test_run_time_faults_have_the_config_shape() -> None:
    """faults_from_data reads what the admin API gets; its errors name 'faults.<key>'."""
    assert faults_from_data({"latency": "1s"}) == FaultsConfig(latency=DurationRange(1.0, 1.0))
    assert faults_from_data(None) is None and faults_from_data({}) is None
    with pytest.raises(ConfigError) as error:
        faults_from_data({"drop": -1})
    assert error.value.key == "faults.drop"


def test_connection_faults() -> None:
    """abort, stall, close, latency and drop read into ConnectionFault; nonsense is refused."""
    assert connection_fault_from_data({"abort": True}) == ConnectionFault(abort=True)
    assert connection_fault_from_data({"stall": True}) == ConnectionFault(stall=True)
    assert connection_fault_from_data({"close": {"code": 1012}}) == ConnectionFault(
        close=(1012, "")
    )
    assert connection_fault_from_data({"close": 4000}) == ConnectionFault(close=(4000, ""))
    assert connection_fault_from_data({"latency": "200ms"}) == ConnectionFault(
        latency=DurationRange(0.2, 0.2)
    )
    assert connection_fault_from_data({"latency": 0, "drop": 0.5}) == ConnectionFault(
        latency=DurationRange(0.0, 0.0), drop=0.5
    )
    for bad, message in (
        ({}, "name a fault"),
        ({"abort": True, "close": 1000}, "exclude each other"),
        ({"close": {"code": "abort"}}, "to abort"),
        ({"abort": "yes"}, "true or false"),
        ({"explode": True}, "unknown key"),
        ([], "a mapping"),
    ):
        with pytest.raises(ConfigError) as error:
            connection_fault_from_data(bad)
        assert message in error.value.message, bad


def test_describe_says_what_the_faults_do() -> None:
    """describe() is the one-line summary the log and the inspector show."""
    faults = faults_of({"latency": ["20ms", "1s"], "drop": 0.05, "stall": {"after": 3}, "seed": 9})
    assert faults is not None
    assert faults.describe() == "latency [20ms, 1s], drop 5%, stall after 3 messages out, seed 9"
    assert FaultsConfig(disconnect=DisconnectFault(Trigger(seconds=0.5))).describe() == (
        "disconnect (abort) after 500ms"
    )
    assert FaultsConfig().describe() == "none"
