"""Import handler modules and call their hooks.

A handler is named by a file path (``handlers/chat.py``) or a dotted module
(``handlers.chat``). A file below the config folder whose folders are valid
package names is imported under its dotted name, so both spellings give the
same module and a handler's own ``from handlers.common import x`` works.

Hooks are looked up on the module at call time (:class:`HandlerSlot`), so a
reload that swaps the module is seen by the very next event.

The config folder is on ``sys.path`` only while someone holds it
(:class:`SysPathLease`): during an import, and for a server from start to
stop, so that two servers in one process, or a server stopped in a test
run, leave ``sys.path`` as they found it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from ..errors import HandlerError
from .timer import HookTimer

__all__ = ["NO_HANDLER", "HandlerSlot", "SysPathLease", "import_failure", "load_handler"]

NO_HANDLER = "(no handler)"
"""The spec and module name of the empty slot of endpoints without a handler."""

# sys.path is the process's: count who holds each folder, and remember which
# entries mockws put there (only those does it take away again).
_path_holders: Counter[str] = Counter()
_path_inserted: set[str] = set()


class SysPathLease:
    """Keeps a folder on ``sys.path`` while held; usable as a context manager.

    A holder that finds the folder missing puts it first; when the last
    holder lets go, mockws removes the entry if it put it there, and leaves
    an entry someone else made.

    Args:
        folder: The config folder handlers import from.
    """

    def __init__(self, folder: Path) -> None:
        self.entry = str(folder)
        self._held = False

    def acquire(self) -> None:
        """Put the folder on ``sys.path`` if it is not there (once per lease)."""
        if self._held:
            return
        self._held = True
        _path_holders[self.entry] += 1
        if self.entry not in sys.path:
            sys.path.insert(0, self.entry)
            _path_inserted.add(self.entry)

    def release(self) -> None:
        """Let go of the folder; the last holder takes mockws's entry off ``sys.path``."""
        if not self._held:
            return
        self._held = False
        _path_holders[self.entry] -= 1
        if _path_holders[self.entry] > 0:
            return
        del _path_holders[self.entry]
        if self.entry in _path_inserted:
            _path_inserted.discard(self.entry)
            if self.entry in sys.path:
                sys.path.remove(self.entry)

    def __enter__(self) -> SysPathLease:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _is_file_reference(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def _dotted_name(file: Path, base_dir: Path) -> str | None:
    try:
        relative = file.relative_to(base_dir)
    except ValueError:
        return None
    parts = [*relative.parent.parts, relative.stem]
    if all(part.isidentifier() for part in parts):
        return ".".join(parts)
    return None


def import_failure(exc: BaseException, origin: Path | None) -> HandlerError:
    """Describe an exception raised while importing, at the innermost user frame."""
    if isinstance(exc, SyntaxError):
        return HandlerError(f"SyntaxError: {exc.msg}", file=exc.filename or origin, line=exc.lineno)
    frames = traceback.extract_tb(exc.__traceback__)
    # Report the innermost frame in user code rather than in importlib.
    user_frames = [frame for frame in frames if "importlib" not in frame.filename]
    where = user_frames[-1] if user_frames else None
    return HandlerError(
        f"{type(exc).__name__} while importing: {exc}",
        file=where.filename if where else origin,
        line=where.lineno if where else None,
    )


def load_handler(spec: str, base_dir: Path) -> ModuleType:
    """Import the handler module named by ``spec``.

    Args:
        spec: A file path (relative to ``base_dir``) or a dotted module name.
        base_dir: The config folder; it is on ``sys.path`` during the import.

    Raises:
        HandlerError: The file does not exist or the module fails to import;
            the error names the file and line at fault.
    """
    with SysPathLease(base_dir):
        return _load(spec, base_dir)


def _load(spec: str, base_dir: Path) -> ModuleType:
    if not _is_file_reference(spec):
        try:
            return importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            # A dot boundary: handler 'chatroom' importing a missing 'chat' is not missing.
            if exc.name and (spec + ".").startswith(exc.name + "."):
                raise HandlerError(f"no module named {spec!r} (looked in {base_dir})") from None
            raise import_failure(exc, None) from None
        except Exception as exc:  # noqa: BLE001 - any import failure is reported
            raise import_failure(exc, None) from None
    file = (base_dir / spec).resolve()
    if not file.is_file():
        raise HandlerError(f"handler file not found: {file}")
    try:
        return _import_by_dotted_name(file, base_dir) or _import_file(file)
    except HandlerError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is reported
        raise import_failure(exc, file) from None


def _import_by_dotted_name(file: Path, base_dir: Path) -> ModuleType | None:
    """Import ``file`` under its package name, or return None if that name is taken."""
    dotted = _dotted_name(file, base_dir)
    if dotted is None:
        return None
    try:
        module = importlib.import_module(dotted)
    except ModuleNotFoundError as exc:
        # Another package of that name (installed, or imported earlier from
        # elsewhere) shadows ours: fall back to importing the file directly.
        if exc.name is not None and (dotted + ".").startswith(exc.name + "."):
            return None
        raise
    return module if Path(module.__file__ or "").resolve() == file else None


def _import_file(file: Path) -> ModuleType:
    name = "mockws_handler_" + "".join(ch if ch.isalnum() else "_" for ch in str(file))
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise HandlerError("cannot import this file as a Python module", file=file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class HandlerSlot:
    """Holds the current version of one handler module, and calls its hooks.

    Args:
        spec: The handler as the config names it.
        module: The imported module.
        timer: Times every hook call (one per server).
    """

    def __init__(self, spec: str, module: ModuleType, timer: HookTimer) -> None:
        self.spec = spec
        self.module = module
        self.timer = timer

    @classmethod
    def empty(cls, timer: HookTimer) -> HandlerSlot:
        """Return a slot with no hooks, for endpoints that have no handler.

        Its module is not in ``sys.modules``, so hot reload never follows it.
        """
        return cls(NO_HANDLER, ModuleType(NO_HANDLER), timer)

    @property
    def is_empty(self) -> bool:
        """True for the slot of endpoints that have no handler."""
        return self.spec == NO_HANDLER and self.module.__name__ == NO_HANDLER

    @property
    def file(self) -> str | None:
        """The module's source file, if it has one."""
        return self.module.__file__

    def hook(self, name: str) -> Callable[..., Any] | None:
        """Return the module's current hook ``name``, or None if it has none."""
        hook = getattr(self.module, name, None)
        return hook if callable(hook) else None

    async def call(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Call a sync or async hook of this module, timed (see :mod:`mockws.hooks.timer`)."""
        return await self.timer.call(hook, *args)

    def swap(self, module: ModuleType) -> None:
        """Serve every following event with ``module``."""
        self.module = module
