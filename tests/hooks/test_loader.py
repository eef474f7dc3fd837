"""Importing handler modules and calling their hooks (mockws/hooks/loader.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mockws.errors import HandlerError
from mockws.hooks.loader import HandlerSlot, SysPathLease, import_failure, load_handler

from ..helpers import WriteFile


def failure(spec: str, base: Path) -> HandlerError:
    with pytest.raises(HandlerError) as caught:
        load_handler(spec, base)
    return caught.value


# load_handler


def test_file_path_and_dotted_name_give_the_same_module(project: Path, write: WriteFile) -> None:
    """A file path and its dotted name import one module, named by the dotted name."""
    path = write("mockhandlers/chat.py", "LOADS = []\nLOADS.append(1)\n")
    by_path = load_handler("mockhandlers/chat.py", project)
    by_name = load_handler("mockhandlers.chat", project)
    assert by_path is by_name
    assert by_path.__name__ == "mockhandlers.chat"
    assert Path(by_path.__file__ or "") == path
    assert by_path.LOADS == [1]


def test_a_handler_imports_its_sibling_by_package_name(project: Path, write: WriteFile) -> None:
    """A handler's own `from mockhandlers.common import x` finds the config folder's package."""
    write("mockhandlers/common.py", "GREETING = 'hi'\n")
    write("mockhandlers/chat.py", "from mockhandlers.common import GREETING\n")
    assert load_handler("mockhandlers/chat.py", project).GREETING == "hi"


def test_a_file_that_is_no_package_name_is_imported_from_its_path(
    project: Path, write: WriteFile
) -> None:
    """A folder like my-handlers cannot be a package: the file is imported by its path."""
    path = write("my-handlers/chat.py", "VALUE = 3\n")
    module = load_handler("my-handlers/chat.py", project)
    assert module.VALUE == 3
    assert module.__name__.startswith("mockws_handler_")
    assert sys.modules[module.__name__] is module
    assert Path(module.__file__ or "") == path


def test_a_file_shadowed_by_an_installed_module_is_still_the_users(
    project: Path, write: WriteFile
) -> None:
    """A handler named like a module imported elsewhere (json.py) is the user's file, not it."""
    import json

    write("json.py", "MINE = True\n")
    module = load_handler("json.py", project)
    assert module is not json and module.MINE is True
    assert sys.modules["json"] is json


def test_a_package_of_that_name_elsewhere_does_not_hide_the_file(
    project: Path, write: WriteFile
) -> None:
    """When the dotted name is another folder's package, the file is imported by its path."""
    write("elsewhere/shadowpkg/chat.py", "WHERE = 'elsewhere'\n")
    path = write("config/shadowpkg/chat.py", "WHERE = 'config'\n")
    sys.path.insert(0, str(project / "elsewhere"))
    try:
        assert load_handler("shadowpkg.chat", project / "elsewhere").WHERE == "elsewhere"
        module = load_handler("shadowpkg/chat.py", project / "config")
    finally:
        sys.path.remove(str(project / "elsewhere"))
        for name in [name for name in sys.modules if name.split(".")[0] == "shadowpkg"]:
            del sys.modules[name]
    assert module.WHERE == "config" and Path(module.__file__ or "") == path
    assert module.__name__.startswith("mockws_handler_")


def test_config_folder_is_on_sys_path_only_during_the_import(
    project: Path, write: WriteFile
) -> None:
    """load_handler puts the config folder first on sys.path while importing, then removes it."""
    write("probe.py", "import sys\nPATH_DURING = list(sys.path)\n")
    module = load_handler("probe.py", project)
    assert module.PATH_DURING[0] == str(project)
    assert str(project) not in sys.path


def test_missing_file_is_a_handler_error(project: Path) -> None:
    """A file that does not exist is reported with its absolute path."""
    error = failure("mockhandlers/nope.py", project)
    assert error.message == f"handler file not found: {project / 'mockhandlers' / 'nope.py'}"


def test_missing_module_is_a_handler_error(project: Path) -> None:
    """A dotted name that imports nothing is reported with the folder it was looked for in."""
    error = failure("mockhandlers.nope", project)
    assert str(error) == f"no module named 'mockhandlers.nope' (looked in {project})"


def test_a_module_missing_inside_a_handler_names_the_handler_line(
    project: Path, write: WriteFile
) -> None:
    """A handler found by name whose own import fails is reported at that import's line."""
    path = write("mockhandlers/needy.py", "X = 1\nimport not_installed_anywhere\n")
    error = failure("mockhandlers.needy", project)
    assert (Path(str(error.file)), error.line) == (path, 2)
    assert error.message == (
        "ModuleNotFoundError while importing: No module named 'not_installed_anywhere'"
    )


def test_a_missing_module_whose_name_prefixes_the_handlers_is_not_the_handler(
    project: Path, write: WriteFile
) -> None:
    """Handler 'chatroom' importing a missing 'chat' names that import, not the handler."""
    path = write("chatroom.py", "import chat\n")
    error = failure("chatroom", project)
    assert (Path(str(error.file)), error.line) == (path, 1)


def test_syntax_error_names_the_file_and_line(project: Path, write: WriteFile) -> None:
    """A SyntaxError is reported at its own file and line, by path or by name."""
    path = write("mockhandlers/broken.py", "X = 1\n\ndef on_message(conn, data:\n    pass\n")
    for spec in ("mockhandlers/broken.py", "mockhandlers.broken"):
        error = failure(spec, project)
        assert (Path(str(error.file)), error.line) == (path, 3), spec
        assert error.message.startswith("SyntaxError: "), error.message


def test_a_raise_at_import_names_the_innermost_user_line(project: Path, write: WriteFile) -> None:
    """An exception at import is reported where the user's code raised, in the module it is in."""
    helper = write("helper.py", "def setup():\n    raise RuntimeError('no database')\n")
    write("boom.py", "from helper import setup\n\nsetup()\n")
    error = failure("boom.py", project)
    assert (Path(str(error.file)), error.line) == (helper, 2)
    assert error.message == "RuntimeError while importing: no database"
    assert str(error).endswith("helper.py:2: RuntimeError while importing: no database")


def test_import_failure_without_a_traceback_falls_back_to_the_origin(tmp_path: Path) -> None:
    """Without a user frame or a SyntaxError filename, the handler file is named, no line."""
    origin = tmp_path / "handler.py"
    plain = import_failure(ValueError("bad"), origin)
    assert (plain.file, plain.line, plain.message) == (
        origin,
        None,
        "ValueError while importing: bad",
    )
    syntax = import_failure(SyntaxError("invalid syntax"), origin)
    assert (syntax.file, syntax.line, syntax.message) == (
        origin,
        None,
        "SyntaxError: invalid syntax",
    )


# SysPathLease


def occurrences(folder: Path) -> int:
    return sys.path.count(str(folder))


def test_lease_inserts_first_and_removes_on_release(tmp_path: Path) -> None:
    """The first acquire puts the folder first on sys.path; the release takes it off."""
    lease = SysPathLease(tmp_path)
    lease.acquire()
    try:
        assert sys.path[0] == str(tmp_path)
    finally:
        lease.release()
    assert occurrences(tmp_path) == 0


def test_acquire_and_release_are_idempotent(tmp_path: Path) -> None:
    """A second acquire of one lease adds nothing; one release removes; a second is harmless."""
    lease = SysPathLease(tmp_path)
    lease.acquire()
    lease.acquire()
    assert occurrences(tmp_path) == 1
    lease.release()
    assert occurrences(tmp_path) == 0
    lease.release()
    assert occurrences(tmp_path) == 0


def test_nested_leases_of_one_folder_share_one_entry(tmp_path: Path) -> None:
    """Two leases of a folder add it once; it stays until the last of them is released."""
    with SysPathLease(tmp_path):
        with SysPathLease(tmp_path) as inner:
            assert occurrences(tmp_path) == 1
            inner.release()
            assert occurrences(tmp_path) == 1
        assert occurrences(tmp_path) == 1
    assert occurrences(tmp_path) == 0


def test_lease_never_removes_an_entry_that_was_there_before(tmp_path: Path) -> None:
    """A folder already on sys.path is neither added again nor removed, however leased."""
    sys.path.append(str(tmp_path))
    try:
        first, second = SysPathLease(tmp_path), SysPathLease(tmp_path)
        first.acquire()
        second.acquire()
        assert occurrences(tmp_path) == 1 and sys.path[-1] == str(tmp_path)
        first.release()
        second.release()
        assert occurrences(tmp_path) == 1
        with SysPathLease(tmp_path):
            pass
        assert occurrences(tmp_path) == 1
    finally:
        sys.path.remove(str(tmp_path))


def test_lease_adds_a_folder_again_after_its_owner_removed_it(tmp_path: Path) -> None:
    """A folder someone else had on sys.path, then removed, is put back by the next lease."""
    sys.path.append(str(tmp_path))
    with SysPathLease(tmp_path):
        pass
    sys.path.remove(str(tmp_path))
    with SysPathLease(tmp_path):
        assert occurrences(tmp_path) == 1
    assert occurrences(tmp_path) == 0


# HandlerSlot


class RecordingTimer:
    """Stands in for HookTimer: records each call and returns a marker."""

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []

    async def call(self, hook: Callable[..., Any], *args: Any) -> Any:
        self.calls.append((hook, args))
        return ("timed", hook(*args))


def module(name: str, **attributes: Any) -> ModuleType:
    made = ModuleType(name)
    made.__dict__.update(attributes)
    return made


def slot_of(handler: ModuleType, timer: Any = None) -> HandlerSlot:
    return HandlerSlot("h.py", handler, timer or RecordingTimer())


def test_hook_returns_callables_only() -> None:
    """hook() gives a callable attribute; a non-callable or missing one is None."""

    def on_message(conn: object, data: object) -> None:
        pass

    slot = slot_of(module("h", on_message=on_message, on_connect="not a function"))
    assert slot.hook("on_message") is on_message
    assert slot.hook("on_connect") is None
    assert slot.hook("on_close") is None


def test_swap_serves_the_next_lookup_from_the_new_module() -> None:
    """After swap(), hooks and the file come from the new module."""
    old = module("h", on_message=lambda conn, data: "old", __file__="/old/h.py")
    new = module("h", on_message=lambda conn, data: "new", __file__="/new/h.py")
    slot = slot_of(old)
    hook_before = slot.hook("on_message")
    slot.swap(new)
    assert slot.module is new and slot.file == "/new/h.py"
    hook = slot.hook("on_message")
    assert hook is not None and hook is not hook_before and hook(None, None) == "new"


async def test_call_goes_through_the_timer() -> None:
    """call() runs the hook through the slot's timer and returns what the timer returns."""
    timer = RecordingTimer()

    def on_message(conn: object, data: object) -> str:
        return f"{conn}:{data}"

    slot = slot_of(module("h", on_message=on_message), timer)
    assert await slot.call(on_message, "c1", "hi") == ("timed", "c1:hi")
    assert timer.calls == [(on_message, ("c1", "hi"))]
