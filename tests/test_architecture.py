"""The house rules of the package layout, checked statically over mockws/ (no imports)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mockws"

# Top to bottom (LAYOUT.md): a module imports only from its own floor or the floors below.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "entry",
        ("mockws", "mockws.__main__", "mockws.testing", "mockws.pytest_plugin", "mockws.events"),
    ),
    *(
        (name, (f"mockws.{name}",))
        for name in (
            "cli",
            "admin",
            "reload",
            "server",
            "auth",
            "hooks",
            "hub",
            "observe",
            "wire",
            "config",
            "errors",
        )
    ),
)
AIOHTTP_COMPAT = "server/aiohttp_compat.py"
PYJWT_WRAPPER = "auth/jwt.py"


@dataclass(frozen=True)
class Import:
    """One mockws module a source module imports."""

    source: str
    target: str
    line: int
    type_checking: bool


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _sources() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_package(module: str) -> bool:
    return _sources()[module].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(
    node: ast.AST, type_checking: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Yield every import statement below ``node``, and whether it is for type checkers only."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, type_checking
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), True)
            for statement in child.orelse:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), type_checking)
        else:
            yield from _walk(child, type_checking)


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = importer if _is_package(importer) else importer.rpartition(".")[0]
    base = package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports_of(module: str) -> list[Import]:
    found: list[Import] = []
    sources = _sources()
    for node, type_checking in _walk(_tree(sources[module])):

        def add(target: str, node: ast.stmt = node, type_checking: bool = type_checking) -> None:
            found.append(Import(module, target, node.lineno, type_checking))

        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in sources:
                    add(alias.name)
            continue
        origin = _resolve(module, node)
        if origin not in sources:
            continue
        submodules = [f"{origin}.{a.name}" for a in node.names if f"{origin}.{a.name}" in sources]
        for target in submodules:
            add(target)
        # An ancestor package is already imported before any of its modules runs: ``from
        # . import x`` depends on it only when it takes a name the package itself defines.
        ancestor = module == origin or module.startswith(origin + ".")
        if not ancestor or len(submodules) < len(node.names):
            add(origin)
    return found


@cache
def _all_imports() -> tuple[Import, ...]:
    return tuple(found for module in _sources() for found in _imports_of(module))


def _floor(module: str) -> int:
    for index, (_, owners) in enumerate(FLOORS):
        for owner in owners:
            if module == owner or (owner != "mockws" and module.startswith(owner + ".")):
                return index
    raise AssertionError(f"{module} is on no floor: add it to FLOORS")


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle is not None:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle is not None:
                return cycle
    return None


def _relative(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _hits(pattern: str, allowed: frozenset[str]) -> list[str]:
    regex = re.compile(pattern)
    hits = []
    for path in _sources().values():
        if _relative(path) in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if regex.search(line):
                hits.append(f"mockws/{_relative(path)}:{number}: {line.strip()}")
    return hits


def test_the_import_scan_sees_the_known_edges() -> None:
    """The scan resolves relative, package, submodule and TYPE_CHECKING imports as Python does."""
    edges = {(i.source, i.target, i.type_checking) for i in _all_imports()}
    assert ("mockws.server.app", "mockws.server.aiohttp_compat", False) in edges
    assert ("mockws.server.app", "mockws.hub.hub", False) in edges
    assert ("mockws.hub.connection", "mockws.hub.hub", True) in edges
    assert ("mockws.hub", "mockws.hub.broker", False) in edges
    assert ("mockws.cli.commands", "mockws.auth.jwt", False) in edges  # inside a function
    assert ("mockws.server.app", "mockws.server", False) not in edges  # its own package
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    """The runtime imports between mockws modules form no cycle (TYPE_CHECKING ones excepted)."""
    graph: dict[str, set[str]] = {}
    for found in _all_imports():
        if not found.type_checking:
            graph.setdefault(found.source, set()).add(found.target)
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_no_import_goes_up_a_floor() -> None:
    """No module imports a package above its own floor, not even for type checking."""
    upward = [
        f"{found.source} -> {found.target} "
        f"(floor {FLOORS[_floor(found.target)][0]} above floor {FLOORS[_floor(found.source)][0]})"
        for found in _all_imports()
        if _floor(found.target) < _floor(found.source)
    ]
    assert not upward, "imports up a floor:\n" + "\n".join(upward)


def test_every_module_is_on_a_floor() -> None:
    """Each mockws module belongs to a floor of LAYOUT.md, so a new package must be placed."""
    for module in _sources():
        _floor(module)


def test_aiohttp_internals_stay_in_the_compat_module() -> None:
    """aiohttp's private attributes and modules are used in server/aiohttp_compat.py only."""
    # A mockws class's own attributes (self._writer) are its business.
    private = (
        r"(?<!\bself)(?<!\bcls)\._(writer|reader|protocol|req|payload_writer|compress"
        r"|pre_start|post_start)\b|\brunner\.server\b"
        r"|\baiohttp\._|from aiohttp\.(_|web_protocol|web_ws|http_websocket)"
    )
    hits = _hits(private, frozenset({AIOHTTP_COMPAT}))
    assert not hits, "\n".join(hits)
    # The guard protocol's owner asks the transport for it.
    protocol = r"\.get_protocol\(\)"
    hits = _hits(protocol, frozenset({AIOHTTP_COMPAT, "server/listener.py"}))
    assert not hits, "\n".join(hits)


def test_pyjwt_internals_stay_in_the_jwt_module() -> None:
    """PyJWT's private _jws and Algorithm subclassing appear in auth/jwt.py only."""
    hits = _hits(r"\._jws\b|\bjwt\.(algorithms|api_jws|api_jwt)\b", frozenset({PYJWT_WRAPPER}))
    assert not hits, "\n".join(hits)
    subclasses = [
        f"mockws/{_relative(path)}:{node.lineno}: class {node.name}"
        for path in _sources().values()
        if _relative(path) != PYJWT_WRAPPER
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.ClassDef)
        and any(ast.unparse(b).rpartition(".")[2].endswith("Algorithm") for b in node.bases)
    ]
    assert not subclasses, "\n".join(subclasses)


# (file, match) -> how many times, and why each is allowed.
ALLOWED_REACHES: dict[tuple[str, str], int] = {
    # The single outbound seam (LAYOUT.md): the hub's fan-out queues its shared frame.
    ("hub/hub.py", "conn._write"): 1,
    # The same seam for Socket.IO events (hub.emit's fan-out).
    ("hub/hub.py", "conn._write_event"): 1,
    # The one aiohttp attribute mockws swaps, behind write_control_frames_after(),
    # and again behind stall_socket() (faults.stall), which also turns off the
    # socket's autoping and heartbeat.
    ("server/aiohttp_compat.py", "socket._writer"): 2,
    ("server/aiohttp_compat.py", "socket._autoping"): 1,
    ("server/aiohttp_compat.py", "socket._cancel_heartbeat"): 1,
    ("server/aiohttp_compat.py", "socket._heartbeat"): 1,
    # Not a reach: the docstring of raw_transport() names the aiohttp source it relies on.
    ("server/aiohttp_compat.py", "request._protocol"): 1,
    # aiohttp's close() from another task must read the client's close frame:
    # await_close_reply() clears the flag that makes it skip that (defect 6 of issue 19).
    ("server/aiohttp_compat.py", "socket._closing"): 1,
    # PyJWT's private PyJWS, in the marked PyJWT section of auth/jwt.py.
    ("auth/jwt.py", "decoder._jws"): 1,
}
REACH = re.compile(r"\b[a-z_][a-z0-9_]*\._[a-z][a-z0-9_]*")


def test_no_reach_into_private_attributes_beyond_the_allow_list() -> None:
    """Touching another object's _private attribute happens only where ALLOWED_REACHES says why."""
    found: Counter[tuple[str, str]] = Counter()
    for path in _sources().values():
        for match in REACH.finditer(path.read_text(encoding="utf-8")):
            if not match.group().startswith(("self._", "cls._")):
                found[_relative(path), match.group()] += 1
    new = {key: n for key, n in found.items() if n > ALLOWED_REACHES.get(key, 0)}
    gone = {key: n for key, n in ALLOWED_REACHES.items() if found[key] < n}
    assert not new, f"new reaches into private attributes (add a public method): {new}"
    assert not gone, f"allowed reaches no longer there (shrink ALLOWED_REACHES): {gone}"
