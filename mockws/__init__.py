"""mockws: a mock WebSocket dev server with Python handlers.

The public names a handler or a Python config uses are importable from here.

Startup rule: this module and ``cli.py`` import only what every ``serve``
needs. Optional features (JWT, file watching, the inspector, uvloop) import
their dependencies inside the code that uses them, so a config that does
not use them does not pay for them; ``tests/test_imports.py`` checks it.
"""

from .auth import AuthResult
from .config import (
    AuthenticateRef,
    CompressionConfig,
    Config,
    EndpointConfig,
    JwtConfig,
    config_from_mapping,
    load_config,
)
from .connection import Connection
from .errors import AuthError, ConfigError, HandlerError, MockwsError
from .hub import Hub
from .limits import EndpointLimits, ServerLimits
from .server import MockServer

__all__ = [
    "AuthError",
    "AuthResult",
    "AuthenticateRef",
    "CompressionConfig",
    "Config",
    "ConfigError",
    "Connection",
    "EndpointConfig",
    "EndpointLimits",
    "HandlerError",
    "Hub",
    "JwtConfig",
    "MockServer",
    "MockwsError",
    "ServerLimits",
    "config_from_mapping",
    "load_config",
]

__version__ = "0.1.0"
