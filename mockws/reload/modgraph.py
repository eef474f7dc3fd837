"""Which project modules the handlers import, directly or through each other.

A module is *local* when its source file lies below the project folder (the
config's folder), outside installed packages and outside mockws itself.
Edges come from the import statements in each module's source, resolved
against the modules loaded in ``sys.modules``; imports built at run time
(``importlib.import_module(name)``) are not seen.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = ["ModuleGraph", "imported_names", "real_path"]

_SKIPPED_DIRS = frozenset(
    {"site-packages", "dist-packages", ".venv", "venv", "node_modules", ".tox", "__pycache__"}
)
_MOCKWS_DIR = Path(__file__).resolve().parent.parent


def real_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` with symlinks resolved, as the file watcher reports it."""
    return os.path.realpath(path)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def imported_names(source: str | bytes, name: str, is_package: bool) -> frozenset[str]:
    """Return every absolute module name that an import in ``source`` may load.

    ``import a.b`` loads ``a`` and ``a.b``; ``from a import b`` loads ``a``
    and, when ``b`` is a submodule, ``a.b``. Relative imports resolve
    against ``name``. Imports inside functions count too.

    Args:
        source: The module's source code.
        name: The module's name.
        is_package: Whether the module is a package (an ``__init__.py``).
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    package = name if is_package else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.update(_with_parents(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                try:
                    base = importlib.util.resolve_name("." * node.level + base, package)
                except (ImportError, ValueError):
                    continue
            if not base:
                continue
            names.update(_with_parents(base))
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    names.discard(name)
    return frozenset(names)


@dataclass(frozen=True)
class _Node:
    module: ModuleType
    file: str
    imports: frozenset[str]


class ModuleGraph:
    """The handler modules and the local modules they import.

    Args:
        root: The project folder; only modules below it are followed.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(real_path(root))
        self._nodes: dict[str, _Node] = {}
        # Installed modules are skipped on every update; remember them by file.
        self._foreign: set[str] = set()

    def is_local(self, file: str) -> bool:
        """Whether ``file`` is project source that a reload should follow."""
        path = Path(file)
        if path.suffix != ".py" or not path.is_relative_to(self.root):
            return False
        if path.is_relative_to(_MOCKWS_DIR):
            return False
        return not _SKIPPED_DIRS.intersection(path.relative_to(self.root).parts)

    def update(self, roots: Iterable[str]) -> None:
        """Rebuild the graph from the modules named ``roots`` (the handlers).

        A handler is followed wherever its file lies; the modules it imports
        only when they are local. Modules whose object has not changed since
        the last update are not parsed again.
        """
        nodes: dict[str, _Node] = {}
        pending = [(name, True) for name in roots]
        while pending:
            name, is_root = pending.pop()
            module = sys.modules.get(name)
            if name in nodes or module is None or not getattr(module, "__file__", None):
                continue
            if not is_root and module.__file__ in self._foreign:
                continue
            file = real_path(module.__file__ or "")
            if not is_root and not self.is_local(file):
                self._foreign.add(module.__file__ or "")
                continue
            node = self._nodes.get(name)
            if node is None or node.module is not module:
                node = _scan(name, module, file)
            nodes[name] = node
            pending.extend((dep, False) for dep in node.imports)
        self._nodes = nodes

    @property
    def modules(self) -> dict[str, ModuleType]:
        """Every module in the graph by name."""
        return {name: node.module for name, node in self._nodes.items()}

    def files(self) -> dict[str, list[str]]:
        """Map each watched source file (real path) to the modules loaded from it."""
        result: dict[str, list[str]] = {}
        for name, node in self._nodes.items():
            result.setdefault(node.file, []).append(name)
        return result

    def imports_of(self, name: str) -> frozenset[str]:
        """The modules of the graph that module ``name`` imports."""
        node = self._nodes.get(name)
        if node is None:
            return frozenset()
        return frozenset(dep for dep in node.imports if dep in self._nodes)

    def dependents(self, names: Iterable[str]) -> set[str]:
        """Return ``names`` and every module that imports one of them, however indirectly."""
        importers: dict[str, set[str]] = {}
        for name in self._nodes:
            for dep in self.imports_of(name):
                importers.setdefault(dep, set()).add(name)
        found = {name for name in names if name in self._nodes}
        pending = list(found)
        while pending:
            for importer in importers.get(pending.pop(), ()):
                if importer not in found:
                    found.add(importer)
                    pending.append(importer)
        return found

    def load_order(self, names: Iterable[str]) -> list[str]:
        """Order ``names`` so that each module comes after the ones it imports.

        In an import cycle, the module reached first is loaded last.
        """
        wanted = set(names)
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            seen.add(name)
            for dep in sorted(self.imports_of(name)):
                if dep in wanted and dep not in seen:
                    visit(dep)
            order.append(name)

        for name in sorted(wanted):
            if name not in seen:
                visit(name)
        return order


def _scan(name: str, module: ModuleType, file: str) -> _Node:
    try:
        source = Path(file).read_bytes()
    except OSError:
        source = b""
    is_package = Path(file).name == "__init__.py"
    return _Node(module, file, imported_names(source, name, is_package))
