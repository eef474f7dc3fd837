"""Finding the project modules a handler imports, and the order to reload them in."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import mockws.reload.modgraph
from mockws.reload.modgraph import ModuleGraph, imported_names

from ..helpers import WriteFile


@pytest.fixture(autouse=True)
def importable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules of the temporary project are importable by name."""
    monkeypatch.syspath_prepend(str(project))


def test_imported_names_covers_every_import_form() -> None:
    """import, from-import, relative and nested imports all name the modules they load."""
    source = """
import a.b
from c import d, e
from . import sibling
from ..up import thing
from .pkg import *
def later():
    import lazy
"""
    names = imported_names(source, "top.inner.mod", is_package=False)
    assert names == {
        "a",
        "a.b",
        "c",
        "c.d",
        "c.e",
        "top",
        "top.inner",
        "top.inner.sibling",
        "top.up",
        "top.up.thing",
        "top.inner.pkg",
        "lazy",
    }


def test_imported_names_of_a_package_resolves_relative_to_itself() -> None:
    """In an __init__.py, '.' is the package itself."""
    assert imported_names("from .util import x", "pkg", is_package=True) >= {"pkg.util"}
    assert imported_names("from . import util", "pkg.sub", is_package=False) >= {"pkg.util"}


def test_unparsable_or_unresolvable_sources_name_nothing() -> None:
    """A syntax error, or a relative import above the top package, yields no names."""
    assert imported_names("def broken(:", "m", is_package=False) == frozenset()
    assert imported_names("from .. import x", "m", is_package=False) == frozenset()


def test_graph_follows_local_imports_only(write: WriteFile) -> None:
    """Installed packages and mockws itself are not followed; project modules are."""
    write("gpkg/__init__.py", "")
    write("gpkg/leaf.py", "import json\nVALUE = 1\n")
    write("gpkg/middle.py", "from .leaf import VALUE\nimport mockws\n")
    root_file = write("groot.py", "import gpkg.middle\nimport aiohttp\n")
    write("gother.py", "from gpkg import leaf\n")
    importlib.import_module("groot")
    importlib.import_module("gother")
    graph = ModuleGraph(root_file.parent)
    graph.update(["groot", "gother"])
    assert set(graph.modules) == {"groot", "gother", "gpkg", "gpkg.middle", "gpkg.leaf"}
    assert graph.dependents(["gpkg.leaf"]) == {"gpkg.leaf", "gpkg.middle", "groot", "gother"}
    order = graph.load_order(graph.dependents(["gpkg.leaf"]))
    assert order.index("gpkg.leaf") < order.index("gpkg.middle") < order.index("groot")
    files = graph.files()
    assert files[str(root_file.resolve())] == ["groot"]


def test_installed_modules_are_never_parsed(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only project sources are read: a handler importing the stdlib costs no stdlib parsing."""
    path = write("uses_stdlib.py", "import asyncio, json, email.message\nimport gpkg_local\n")
    write("gpkg_local.py", "import decimal\n")
    importlib.import_module("uses_stdlib")
    scanned: list[str] = []
    real_scan = mockws.reload.modgraph._scan
    monkeypatch.setattr(
        mockws.reload.modgraph,
        "_scan",
        lambda name, *args: scanned.append(name) or real_scan(name, *args),
    )
    graph = ModuleGraph(path.parent)
    graph.update(["uses_stdlib"])
    graph.update(["uses_stdlib"])
    assert scanned == ["uses_stdlib", "gpkg_local"]


def test_is_local_skips_virtualenvs_and_node_modules(project: Path) -> None:
    """Files below .venv, site-packages or node_modules are never project modules."""
    graph = ModuleGraph(project)
    assert graph.is_local(str(project / "handlers" / "x.py"))
    assert not graph.is_local(str(project / ".venv" / "lib" / "x.py"))
    assert not graph.is_local(str(project / "node_modules" / "x.py"))
    assert not graph.is_local(str(project / "notes.txt"))
    assert not graph.is_local("/elsewhere/x.py")


def test_import_cycle_still_orders_every_module(write: WriteFile) -> None:
    """Modules that import each other are all reloaded, each once."""
    write("cyc_a.py", "import cyc_b\n")
    path = write("cyc_b.py", "import cyc_a\n")
    importlib.import_module("cyc_a")
    graph = ModuleGraph(path.parent)
    graph.update(["cyc_a"])
    assert sorted(graph.load_order(graph.dependents(["cyc_b"]))) == ["cyc_a", "cyc_b"]
