"""docs/reliability.md lists every limit and every allowed Autobahn failure."""

from __future__ import annotations

import importlib.util
from dataclasses import fields

from mockws.config.limits import (
    ENDPOINT_LIMIT_KEYS,
    SERVER_LIMIT_KEYS,
    EndpointLimits,
    ServerLimits,
)

from .helpers import ROOT

DOC = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")


def _table_row(key: str) -> str:
    return next(line for line in DOC.splitlines() if line.startswith(f"| `{key}` "))


def test_every_limit_is_documented_with_its_default() -> None:
    """Each limit key has a row in the limits tables showing its default."""
    for keys, defaults, prefix in (
        (SERVER_LIMIT_KEYS, ServerLimits(), "limits."),
        (ENDPOINT_LIMIT_KEYS, EndpointLimits(), ""),
    ):
        assert {field.name for field in fields(defaults)} == set(keys)
        for key in keys:
            row = _table_row(prefix + key)
            default = getattr(defaults, key)
            if default is None:
                shown = "none"
            elif isinstance(default, str):
                shown = f"`{default}`"
            else:
                shown = f"`{default:.15g}`"
            assert shown in row, row


def test_every_allowed_autobahn_failure_is_documented() -> None:
    """Each case CI lets fail is explained in the known-failures table."""
    spec = importlib.util.spec_from_file_location("autobahn_run", ROOT / "tests/autobahn/run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.ALLOWED_FAILURES
    for case in module.ALLOWED_FAILURES:
        assert f"| {case} |" in DOC, case
