"""mockws: a mock WebSocket dev server with Python handlers.

The public names a handler or a Python config uses are importable from here.

The package's floors, top to bottom (a package imports only from below it;
``docs/architecture.md`` draws the map): ``cli``, ``admin``, ``reload``,
``server``, ``auth``, ``hooks``, ``hub``, ``observe``, ``wire``, ``config``,
and ``errors`` at the ground.

Startup rule: this module and ``mockws.cli`` import only what every ``serve``
needs. Optional features (JWT, file watching, the inspector, uvloop) import
their dependencies inside the code that uses them, so a config that does
not use them does not pay for them; ``tests/test_imports.py`` checks it.
"""

from .auth.base import AuthResult
from .config.limits import EndpointLimits, ServerLimits
from .config.load import config_from_mapping, load_config
from .config.model import AuthenticateRef, CompressionConfig, Config, EndpointConfig, JwtConfig
from .errors import AuthError, ConfigError, HandlerError, MockwsError
from .hub.connection import Connection
from .hub.hub import Hub
from .hub.sio_connection import SioConnection
from .server.app import MockServer
from .server.http_serve import REQUEST_CLAIMS, REQUEST_HUB

__all__ = [
    "REQUEST_CLAIMS",
    "REQUEST_HUB",
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
    "SioConnection",
    "config_from_mapping",
    "load_config",
]

__version__ = "0.1.0"
