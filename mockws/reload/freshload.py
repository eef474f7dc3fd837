"""Execute a fresh copy of a module from its source, never from bytecode.

Python's bytecode cache checks a ``.pyc`` against its source's modification
time in whole seconds and its size, so two saves of the same length within
one second would re-run the first save's code. Reloads here compile the
source every time and never read or write a ``.pyc``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, ModuleType

from ..errors import HandlerError
from ..hooks.loader import import_failure

__all__ = ["SourceOnlyLoader", "file_digest", "fresh_imports", "reload_module", "source_digest"]


def source_digest(source: bytes) -> bytes:
    """Return the digest that identifies one version of a source file."""
    return hashlib.blake2b(source, digest_size=16).digest()


def file_digest(path: Path) -> bytes | None:
    """Return the digest of the file at ``path``, or None if it cannot be read."""
    try:
        return source_digest(path.read_bytes())
    except OSError:
        return None


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """A source loader that compiles the file on every load and skips bytecode.

    Attributes:
        digest: The digest of the exact source that was compiled, once loaded.
    """

    digest: bytes | None = None

    def get_code(self, fullname: str) -> CodeType:
        """Compile the module's current source."""
        source = self.get_data(self.path)
        self.digest = source_digest(source)
        return self.source_to_code(source, self.path)


class _ProjectFinder(importlib.abc.MetaPathFinder):
    """Gives modules below ``root`` a :class:`SourceOnlyLoader`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or spec.origin is None
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or not Path(spec.origin).is_relative_to(self.root)
        ):
            return None
        spec.loader = SourceOnlyLoader(fullname, spec.origin)
        return spec


@contextmanager
def fresh_imports(root: Path) -> Iterator[None]:
    """Within the block, modules first imported from below ``root`` load from source.

    Also forgets the import system's cached folder listings, so a module file
    created a moment ago is found.
    """
    importlib.invalidate_caches()
    finder = _ProjectFinder(root)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def reload_module(name: str, old: ModuleType) -> ModuleType:
    """Execute a new copy of module ``name`` from its source file and register it.

    The new module replaces ``old`` in ``sys.modules`` and on its parent
    package. If it fails to import, ``old`` is put back and nothing changes.

    Returns:
        The new module; its ``__spec__.loader`` is a :class:`SourceOnlyLoader`.

    Raises:
        HandlerError: The module fails to import; the error names the file
            and line at fault.
    """
    file = Path(old.__file__ or "")
    loader = SourceOnlyLoader(name, str(file))
    spec = importlib.util.spec_from_file_location(name, file, loader=loader)
    if spec is None:
        raise HandlerError("cannot import this file as a Python module", file=file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any import failure is reported
        _register(name, old)
        if isinstance(exc, FileNotFoundError) and exc.filename == str(file):
            raise HandlerError("file was deleted", file=file) from None
        raise import_failure(exc, file) from None
    if spec.submodule_search_locations is not None:
        _keep_submodules(name, module)
    _register(name, module)
    return module


def _register(name: str, module: ModuleType) -> None:
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)


def _keep_submodules(name: str, new: ModuleType) -> None:
    """A re-run package keeps the submodules already imported below it."""
    prefix = name + "."
    for key, submodule in list(sys.modules.items()):
        child = key[len(prefix) :]
        if key.startswith(prefix) and "." not in child and not hasattr(new, child):
            setattr(new, child, submodule)
