"""Config: text (YAML, a Python file or a mapping) in, one validated, frozen Config out.

- :mod:`~mockws.config.model`: the frozen dataclasses the rest of mockws trusts.
- :mod:`~mockws.config.load`: reading files and mappings, validating every key once.
- :mod:`~mockws.config.limits`: resource limits, their defaults and keys.
- :mod:`~mockws.config.keys`: typed key reading with file:line:key errors.
- :mod:`~mockws.config.yaml_source`: YAML with the line of every key.
- :mod:`~mockws.config.patterns`: the URL pattern grammar.
- :mod:`~mockws.config.templates`: Jinja2 templates in config values, compiled at load
  (:mod:`~mockws.config.sandbox` runs them, :mod:`~mockws.config.template_names` names them).

New config sources (an AsyncAPI document, a rules schema) slot in beside
``load`` and produce the same :class:`Config`.
"""

from .limits import EndpointLimits, ServerLimits
from .load import DEFAULT_CONFIG_NAMES, config_from_mapping, find_default_config, load_config
from .model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    AuthenticateRef,
    CompressionConfig,
    Config,
    EndpointConfig,
    JwtConfig,
)

__all__ = [
    "DEFAULT_CONFIG_NAMES",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "AuthenticateRef",
    "CompressionConfig",
    "Config",
    "EndpointConfig",
    "EndpointLimits",
    "JwtConfig",
    "ServerLimits",
    "config_from_mapping",
    "find_default_config",
    "load_config",
]
