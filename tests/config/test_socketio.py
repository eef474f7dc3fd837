"""The Socket.IO keys of an endpoint (mockws/config/socketio.py)."""

from __future__ import annotations

import os

import pytest

from mockws.config.load import config_from_mapping, load_config
from mockws.errors import ConfigError

from ..helpers import WriteFile

SIO = "endpoints:\n  - pattern: /socket.io/\n    handler: h.py\n    protocol: socket.io\n"


def test_defaults_and_a_trailing_slash_pattern() -> None:
    """A socket.io endpoint serves "/" by default; its pattern may end in "/"."""
    config = config_from_mapping(
        {"endpoints": [{"pattern": "/socket.io/", "handler": "h.py", "protocol": "socket.io"}]}
    )
    endpoint = config.endpoints[0]
    assert (endpoint.protocol, endpoint.namespaces) == ("socket.io", ("/",))
    assert endpoint.socketio and endpoint.route_pattern == "/socket.io"
    plain = config_from_mapping({"endpoints": [{"pattern": "/ws", "handler": "h.py"}]})
    assert plain.endpoints[0].protocol == "websocket" and not plain.endpoints[0].socketio


def test_namespaces_are_kept_once_in_order() -> None:
    """Namespaces listed twice count once."""
    config = config_from_mapping(
        {
            "endpoints": [
                {
                    "pattern": "/io/",
                    "handler": "h.py",
                    "protocol": "socket.io",
                    "namespaces": ["/", "/admin", "/"],
                }
            ]
        }
    )
    assert config.endpoints[0].namespaces == ("/", "/admin")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    protocol: mqtt\n",
            "dev.yaml:4: endpoints[0].protocol: expected one of websocket, socket.io, got 'mqtt'",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    namespaces: [/]\n",
            "dev.yaml:4: endpoints[0].namespaces: only a 'protocol: socket.io' endpoint has",
        ),
        (
            SIO + "    namespaces: [/, admin]\n",
            "dev.yaml:5: endpoints[0].namespaces[1]: a namespace starts with '/'",
        ),
        (SIO + "    namespaces: []\n", "dev.yaml:5: endpoints[0].namespaces: list at least one"),
        (
            "endpoints:\n  - pattern: /ws/\n    handler: h.py\n",
            "dev.yaml:2: endpoints[0].pattern: pattern '/ws/' has an empty segment",
        ),
        (
            SIO + "  - pattern: /socket.io\n    handler: h.py\n",
            "dev.yaml:5: endpoints[1].pattern: pattern '/socket.io' duplicates",
        ),
        (SIO + "    protocl: socket.io\n", "(did you mean 'protocol'?)"),
    ],
)
def test_errors_name_file_line_and_key(write: WriteFile, body: str, expected: str) -> None:
    """Bad Socket.IO keys are config errors with file, line and key."""
    with pytest.raises(ConfigError) as caught:
        load_config(write("dev.yaml", body))
    message = str(caught.value)
    assert expected in message, message
    assert f"{os.sep}dev.yaml" in message
