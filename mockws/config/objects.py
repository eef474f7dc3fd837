"""Validate a config built in Python from ``Config`` and ``EndpointConfig`` objects.

The dataclasses accept any value (``heartbeat="fast"``), so a config built
from them is turned back into the mapping a YAML file would give and
validated by the same code, with the same messages naming the file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from .model import AuthenticateRef, Config, EndpointConfig, JwtConfig

__all__ = ["config_as_mapping"]

# Config fields that are not keys of the file.
_NOT_KEYS = frozenset({"source", "base_dir", "source_map", "validated"})


def _plain(value: Any) -> Any:
    """Return ``value`` as YAML would give it: mappings, lists, strings, numbers."""
    if isinstance(value, JwtConfig):
        return {"jwt": _fields(value, skip_defaults=False)}
    if isinstance(value, AuthenticateRef):
        return value.target
    if isinstance(value, EndpointConfig):
        return _fields(value, skip_defaults=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Every field: a sub-mapping's absent key may default differently from
        # its dataclass (compression's `enabled` is true when the mapping is given).
        return _fields(value, skip_defaults=False)
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def _fields(value: Any, *, skip_defaults: bool) -> dict[str, Any]:
    """The fields of a dataclass as plain data.

    With ``skip_defaults`` (a Config, an EndpointConfig) a field left at its
    default is left out, as a key absent from a file is.
    """
    result: dict[str, Any] = {}
    for field in dataclasses.fields(value):
        if field.name in _NOT_KEYS:
            continue
        current = getattr(value, field.name)
        default = field.default
        if skip_defaults and default is not dataclasses.MISSING and current == default:
            continue
        result[field.name] = _plain(current)
    return result


def config_as_mapping(config: Config) -> dict[str, Any]:
    """Return ``config`` as the mapping of keys a YAML config of it would have."""
    return _fields(config, skip_defaults=True)
