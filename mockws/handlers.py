"""Import handler modules and call their hooks.

A handler is named by a file path (``handlers/chat.py``) or a dotted module
(``handlers.chat``). A file below the config folder whose folders are valid
package names is imported under its dotted name, so both spellings give the
same module and a handler's own ``from handlers.common import x`` works.

Hooks are looked up on the module at call time (:class:`HandlerSlot`), so a
reload that swaps the module is seen by the very next event.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import HandlerError
from .hooktimer import timed_call

__all__ = ["HOOK_NAMES", "HandlerSlot", "call_hook", "load_handler", "resolve_callable"]

HOOK_NAMES = ("on_connect", "on_message", "on_close", "on_error", "authenticate", "background")


def _is_file_reference(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def ensure_on_path(folder: Path) -> None:
    """Put ``folder`` first on ``sys.path`` so handlers import from it."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _dotted_name(file: Path, base_dir: Path) -> str | None:
    try:
        relative = file.relative_to(base_dir)
    except ValueError:
        return None
    parts = [*relative.parent.parts, relative.stem]
    if all(part.isidentifier() for part in parts):
        return ".".join(parts)
    return None


def _import_failure(exc: BaseException, origin: Path | None) -> HandlerError:
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
        base_dir: The config folder; it is put on ``sys.path``.

    Raises:
        HandlerError: The file does not exist or the module fails to import;
            the error names the file and line at fault.
    """
    ensure_on_path(base_dir)
    if not _is_file_reference(spec):
        try:
            return importlib.import_module(spec)
        except ModuleNotFoundError as exc:
            if exc.name and spec.startswith(exc.name):
                raise HandlerError(f"no module named {spec!r} (looked in {base_dir})") from None
            raise _import_failure(exc, None) from None
        except Exception as exc:  # noqa: BLE001 - any import failure is reported
            raise _import_failure(exc, None) from None
    file = (base_dir / spec).resolve()
    if not file.is_file():
        raise HandlerError(f"handler file not found: {file}")
    try:
        return _import_by_dotted_name(file, base_dir) or _import_file(file)
    except HandlerError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure is reported
        raise _import_failure(exc, file) from None


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


def resolve_callable(target: str, base_dir: Path) -> Callable[..., Any]:
    """Return the function named by ``module:function`` or ``path.py:function``.

    Raises:
        HandlerError: The module cannot be imported or lacks the function.
    """
    module_spec, _, attribute = target.rpartition(":")
    if not module_spec or not attribute:
        raise HandlerError(f"{target!r}: expected 'path/to/file.py:function' or 'module:function'")
    module = load_handler(module_spec, base_dir)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerError(f"{module_spec} has no function {attribute!r}", file=module.__file__)
    return function  # type: ignore[no-any-return]


async def call_hook(hook: Callable[..., Any], *args: Any) -> Any:
    """Call a sync or async hook and return its result.

    A hook that blocks the event loop too long is logged (see mockws.hooktimer).
    """
    return await timed_call(hook, *args)


class HandlerSlot:
    """Holds the current version of one handler module.

    Args:
        spec: The handler as the config names it.
        module: The imported module.
    """

    def __init__(self, spec: str, module: ModuleType) -> None:
        self.spec = spec
        self.module = module

    @property
    def file(self) -> str | None:
        """The module's source file, if it has one."""
        return self.module.__file__

    def hook(self, name: str) -> Callable[..., Any] | None:
        """Return the module's current hook ``name``, or None if it has none."""
        hook = getattr(self.module, name, None)
        return hook if callable(hook) else None

    def swap(self, module: ModuleType) -> None:
        """Serve every following event with ``module``."""
        self.module = module
