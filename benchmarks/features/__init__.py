"""Per-feature benchmark rows, one module each, found by name.

Each module here (``rules.py``, ``proxy.py``, ...) defines::

    def run(ctx: FeatureContext) -> list[Row]: ...
    def targets(rows: list[Row]) -> list[Target]: ...   # optional

``python -m benchmarks.run --scenarios features --features rules,proxy``
runs only those; the default runs every module after the core scenarios.
A module whose component is missing returns a row whose note starts with
"skipped:" instead of raising; a row whose note starts with "failed"
fails ``--strict``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..report import Target
from ..scenarios import Profile, Row

__all__ = ["FeatureContext", "feature_modules", "feature_targets", "run_features"]


@dataclass(frozen=True)
class FeatureContext:
    """What a feature benchmark gets: the load profile and where to write.

    Attributes:
        profile: QUICK or FULL loads.
        quick: True for ``--quick`` (CI): keep the run short.
        out: The results folder; write extra files here.
        logs: Where server logs go.
        work: A scratch folder for configs and handler files.
        client_loop: "uvloop" or "asyncio", for load generators.
        log: Prints a progress line to stderr.
    """

    profile: Profile
    quick: bool
    out: Path
    logs: Path
    work: Path
    client_loop: str
    log: Callable[[str], None]


def feature_modules(names: set[str] | None = None) -> list[ModuleType]:
    """Import the feature modules, all of them or those in ``names``, sorted by name."""
    found = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.ispkg)
    return [
        importlib.import_module(f"{__name__}.{name}")
        for name in found
        if names is None or name in names
    ]


def run_features(ctx: FeatureContext, names: set[str] | None = None) -> list[Row]:
    """Run each feature module; a module that raises becomes a "failed" row."""
    rows: list[Row] = []
    for module in feature_modules(names):
        name = module.__name__.rsplit(".", 1)[-1]
        ctx.log(f"feature benchmark: {name}")
        try:
            rows += module.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken feature must not stop the suite
            ctx.log(f"feature {name} failed: {exc}")
            rows.append(Row(name, "mockws", {}, f"failed: {exc}"))
    return rows


def feature_targets(rows: list[Row]) -> list[Target]:
    """The targets every feature module that defines ``targets`` reports."""
    targets: list[Target] = []
    for module in feature_modules():
        check = getattr(module, "targets", None)
        if check is not None:
            targets += check(rows)
    return targets
