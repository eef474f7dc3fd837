"""Executing a fresh copy of a module from source, and putting the old one back on failure."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from mockws.errors import HandlerError
from mockws.reload.freshload import SourceOnlyLoader, fresh_imports, reload_module, source_digest

from ..helpers import WriteFile


@pytest.fixture(autouse=True)
def importable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules of the temporary project are importable by name."""
    monkeypatch.syspath_prepend(str(project))


def test_reload_runs_the_current_source_despite_a_valid_looking_pyc(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, same modification second: the new source runs, not the cached bytecode."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = write("fl_same.py", "V = 'a'\n")
    stamp = int(path.stat().st_mtime)
    old = importlib.import_module("fl_same")
    path.write_text("V = 'b'\n")
    os.utime(path, (stamp, stamp))
    new = reload_module("fl_same", old)
    assert (old.V, new.V) == ("a", "b")
    assert sys.modules["fl_same"] is new
    loader = new.__spec__.loader
    assert isinstance(loader, SourceOnlyLoader)
    assert loader.digest == source_digest(b"V = 'b'\n")


def test_failed_reload_puts_the_old_module_back(write: WriteFile) -> None:
    """A module that fails to import leaves the previous one registered; the error has file:line."""
    path = write("fl_pkg/__init__.py", "")
    write("fl_pkg/mod.py", "V = 1\n")
    old = importlib.import_module("fl_pkg.mod")
    path.with_name("mod.py").write_text("V = 2\n\nraise ValueError('nope')\n")
    with pytest.raises(HandlerError) as caught:
        reload_module("fl_pkg.mod", old)
    assert caught.value.line == 3 and "ValueError" in str(caught.value)
    assert sys.modules["fl_pkg.mod"] is old
    assert sys.modules["fl_pkg"].mod is old


def test_reloaded_submodule_replaces_the_attribute_on_its_package(write: WriteFile) -> None:
    """After a reload, 'pkg.mod' reached through the package is the new module."""
    write("fl_pkg2/__init__.py", "X = 1\n")
    path = write("fl_pkg2/mod.py", "V = 1\n")
    package = importlib.import_module("fl_pkg2")
    importlib.import_module("fl_pkg2.mod")
    path.write_text("V = 2\n")
    new = reload_module("fl_pkg2.mod", sys.modules["fl_pkg2.mod"])
    assert package.mod is new
    path.with_name("__init__.py").write_text("X = 2\n")
    new_package = reload_module("fl_pkg2", package)
    assert new_package.X == 2 and new_package.mod is new


def test_deleted_file_is_reported_as_such(write: WriteFile) -> None:
    """Reloading a module whose file is gone says so and keeps the module."""
    path = write("fl_gone.py", "V = 1\n")
    old = importlib.import_module("fl_gone")
    path.unlink()
    with pytest.raises(HandlerError, match="file was deleted"):
        reload_module("fl_gone", old)
    assert sys.modules["fl_gone"] is old


def test_fresh_imports_load_new_project_modules_from_source(write: WriteFile) -> None:
    """Inside fresh_imports, a module first imported from the project skips bytecode."""
    path = write("fl_new.py", "V = 1\n")
    finders = list(sys.meta_path)
    with fresh_imports(path.parent):
        module = importlib.import_module("fl_new")
    assert isinstance(module.__spec__.loader, SourceOnlyLoader)
    assert sys.meta_path == finders
