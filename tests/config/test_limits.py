"""Limit settings in the config (mockws/config/limits.py): defaults, parsing, errors."""

from __future__ import annotations

import os

import pytest

from mockws.config import load_config
from mockws.config.limits import EndpointLimits, ServerLimits
from mockws.errors import ConfigError

from ..helpers import WriteFile


def test_defaults_when_no_limits_are_given(write: WriteFile) -> None:
    """Without limits keys the documented defaults apply."""
    config = load_config(write("dev.yaml", "endpoints:\n  - pattern: /a\n    handler: h.py\n"))
    assert config.limits == ServerLimits()
    assert config.limits.max_connections == 10_000
    assert config.limits.handshake_timeout == 10.0
    assert config.limits.max_header_size == 16384
    assert config.limits.slow_hook_warning == 0.1
    endpoint = config.endpoints[0].limits
    assert endpoint == EndpointLimits()
    assert endpoint.max_connections is None and endpoint.send_high_water == 4 * 1024 * 1024
    assert endpoint.slow_client_timeout == 30.0 and endpoint.slow_client_max_dropped == 10_000
    assert endpoint.max_fragments == 4096 and endpoint.max_queue == 256


def test_every_limit_key_is_parsed(write: WriteFile) -> None:
    """Each server and endpoint limit key lands in the typed config; 0 and null mean no limit."""
    path = write(
        "dev.yaml",
        """
        limits:
          max_connections: 50
          handshake_timeout: 2.5
          max_header_size: 4096
          slow_hook_warning: 0
        endpoints:
          - pattern: /a
            handler: h.py
            limits:
              max_connections: 5
              send_high_water: 65536
              slow_client_timeout: 1.5
              slow_client_max_dropped: 0
              max_fragments: 16
              max_queue: 8
          - pattern: /b
            handler: h.py
            limits: {max_connections: null, slow_client_timeout: 0, max_fragments: 0, max_queue: 0}
    """,
    )
    config = load_config(path)
    assert config.limits == ServerLimits(
        max_connections=50, handshake_timeout=2.5, max_header_size=4096, slow_hook_warning=None
    )
    assert config.endpoints[0].limits == EndpointLimits(
        max_connections=5,
        send_high_water=65536,
        slow_client_timeout=1.5,
        slow_client_max_dropped=None,
        max_fragments=16,
        max_queue=8,
    )
    assert config.endpoints[1].limits == EndpointLimits(
        slow_client_timeout=None, max_fragments=None, max_queue=None
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "limits:\n  max_conections: 3\n",
            "dev.yaml:2: limits.max_conections: unknown key (did you mean 'max_connections'?)",
        ),
        (
            "limits:\n  max_connections: many\n",
            "dev.yaml:2: limits.max_connections: expected a whole number, got 'many'",
        ),
        (
            "limits:\n  max_connections: -1\n",
            "dev.yaml:2: limits.max_connections: expected a number >= 1, got -1",
        ),
        (
            "limits:\n  handshake_timeout: soon\n",
            "dev.yaml:2: limits.handshake_timeout: expected a number of seconds, got 'soon'",
        ),
        (
            "limits:\n  max_header_size: 100\n",
            "dev.yaml:2: limits.max_header_size: expected a number >= 1024, got 100",
        ),
        (
            "limits:\n  slow_hook_warning: true\n",
            "dev.yaml:2: limits.slow_hook_warning: expected a number of seconds, got a boolean",
        ),
        ("limits: 5\n", "dev.yaml:1: limits: expected a mapping, got the number 5"),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n      high_water: 1\n",
            "dev.yaml:5: endpoints[0].limits.high_water: unknown key",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      send_high_water: 0\n",
            "dev.yaml:5: endpoints[0].limits.send_high_water: expected a number >= 1, got 0",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      slow_client_timeout: -2\n",
            "dev.yaml:5: endpoints[0].limits.slow_client_timeout: expected a number of seconds",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      slow_client_max_dropped: 1.5\n",
            "dev.yaml:5: endpoints[0].limits.slow_client_max_dropped: expected a whole number",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      max_connections: [1]\n",
            "dev.yaml:5: endpoints[0].limits.max_connections: expected a whole number, got a list",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      max_fragments: few\n",
            "dev.yaml:5: endpoints[0].limits.max_fragments: expected a whole number, got 'few'",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n      max_queue: -3\n",
            "dev.yaml:5: endpoints[0].limits.max_queue: expected a number >= 1, got -3",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      on_backpressure: drop\n",
            "dev.yaml:5: endpoints[0].limits.on_backpressure: expected one of wait, drop_oldest, "
            "drop_newest, close, got 'drop'",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits:\n"
            "      close_grace: soon\n",
            "dev.yaml:5: endpoints[0].limits.close_grace: expected a number of seconds",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    limits: [1]\n",
            "dev.yaml:4: endpoints[0].limits: expected a mapping, got a list",
        ),
    ],
)
def test_limit_errors_name_file_line_and_key(write: WriteFile, body: str, expected: str) -> None:
    """Every invalid limit is reported as file:line: key: message."""
    with pytest.raises(ConfigError) as caught:
        load_config(write("dev.yaml", body))
    assert f"{os.sep}{expected}" in str(caught.value), str(caught.value)


def test_backpressure_policy_and_close_grace(write: WriteFile) -> None:
    """on_backpressure defaults to wait and close_grace to 5 s; both are read per endpoint."""
    text = (
        "endpoints:\n  - pattern: /a\n    handler: h.py\n"
        "  - pattern: /b\n    handler: h.py\n    limits:\n"
        "      on_backpressure: drop_oldest\n      close_grace: 0.5\n"
    )
    first, second = load_config(write("dev.yaml", text)).endpoints
    assert (first.limits.on_backpressure, first.limits.close_grace) == ("wait", 5.0)
    assert (second.limits.on_backpressure, second.limits.close_grace) == ("drop_oldest", 0.5)
