"""Hot reload: apply edits to handler files and the config in the running server.

The :class:`Reloader` follows the config file, every handler module and the
project modules they import (:mod:`mockws.reload.modgraph`), watches their
folders (:mod:`mockws.reload.watcher`) and, for each batch of saved files:

1. re-executes each changed module, and every module that imports it, from
   source (:mod:`mockws.reload.freshload`), the imported modules first;
2. swaps the new handler modules into their :class:`~mockws.hooks.loader.HandlerSlot`
   all at once, with no await in between: every connection stays open and
   its next event runs the new code;
3. restarts the ``background(hub)`` tasks of the swapped handlers;
4. applies an edited config with :meth:`MockServer.apply_config` (an edited
   AsyncAPI document, or a file it references, counts as a config edit);
5. logs one line: the changed files, what was reloaded, and how long it took.

A module that fails to import leaves its previous version serving (and so do
the modules that import it); the next save that imports cleanly recovers.

:func:`attach_reloader` wires a reloader to a server from outside: the
server itself does not know about reloading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config.load import load_config
from ..config.model import Config
from ..errors import HandlerError, MockwsError, display_path
from ..hooks.loader import HandlerSlot
from ..observe.events import Reloaded
from ..server.app import MockServer
from ..server.reconfig import ConfigChange
from .freshload import SourceOnlyLoader, file_digest, fresh_imports, reload_module
from .modgraph import ModuleGraph, real_path
from .watcher import FileWatcher

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["ReloadReport", "Reloader", "attach_reloader"]

log = logging.getLogger("mockws.reload")

# Keys that name how the process is bound; an edit applies on the next start.
_RESTART_ONLY = ("host", "port", "reload")
# Files first followed during a reload may already be stale; check a few rounds.
_MAX_ROUNDS = 3


@dataclass
class ReloadReport:
    """What one reload did.

    Attributes:
        changed: The changed files, as displayed (relative to the working folder).
        reloaded: Names of the modules executed anew.
        endpoints: Patterns of the endpoints whose handler was swapped.
        failed: One message per module that failed to import (``file:line: error``).
        skipped: Modules not reloaded because a module they import failed.
        config: What the config edit changed, if the config was applied.
        config_error: Why an edited config was not applied.
        notes: Remarks for the user, such as settings that need a restart.
        seconds: How long the reload took.
    """

    changed: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    config: ConfigChange | None = None
    config_error: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every changed file was applied."""
        return not self.failed and not self.skipped and self.config_error is None

    def describe(self) -> str:
        """Return the one-line summary that is logged."""
        parts = [f"{', '.join(self.changed)} changed"]
        if self.reloaded:
            where = f" ({', '.join(self.endpoints)})" if self.endpoints else ""
            parts.append(f"reloaded {', '.join(self.reloaded)}{where}")
        if self.config is not None:
            parts.append(f"config applied: {self.config.describe()}")
        parts += [f"{error} (the previous version keeps serving)" for error in self.failed]
        if self.skipped:
            parts.append(f"not reloaded: {', '.join(self.skipped)} (imports a module that failed)")
        if self.config_error is not None:
            parts.append(f"config not applied: {self.config_error} (the running config stays)")
        parts += self.notes
        return f"{'; '.join(parts)} [{self.seconds * 1000:.1f} ms]"


class Reloader:
    """Watches a running server's files and reloads what changes.

    Args:
        server: The started server; its handlers are loaded.
    """

    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.root = server.config.base_dir
        self.graph = ModuleGraph(self.root)
        self.watcher = FileWatcher()
        self.generation = 0
        self.last_report: ReloadReport | None = None
        source = server.config.source
        self._config_path: Path | None = source
        self._config_file = real_path(source) if source is not None else None
        self._file_config: Config | None = None
        self._digests: dict[str, bytes] = {}
        self._missing: set[str] = set()
        self._restarts: dict[HandlerSlot, asyncio.Task[None]] = {}
        self._reloaded = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start watching; returns once changes are being watched."""
        if self._config_path is not None:
            with contextlib.suppress(MockwsError):
                self._file_config = load_config(self._config_path)
        await self._follow()
        log.info(
            "reload: watching %d file(s) below %s for changes",
            len(self.watcher.files),
            display_path(self.root),
        )
        self._task = asyncio.create_task(self._run(), name="mockws reloader")

    async def stop(self) -> None:
        """Stop watching and wait for background restarts under way."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.watcher.close()
        restarts = [task for task in self._restarts.values() if not task.done()]
        if restarts:
            await asyncio.wait(restarts)

    async def wait_for(self, generation: int, timeout: float) -> ReloadReport:
        """Wait until reload number ``generation`` is done and return its report.

        Raises:
            TimeoutError: It did not happen within ``timeout`` seconds.
        """
        async with asyncio.timeout(timeout):
            while self.generation < generation:
                await self._reloaded.wait()
        assert self.last_report is not None
        return self.last_report

    async def _run(self) -> None:
        # Catch what changed between loading the handlers and watching them.
        pending = set(self.watcher.files)
        while True:
            try:
                await self.apply(pending)
            except Exception:  # noqa: BLE001 - a reload bug must not stop reloading
                log.exception("reload failed")
            pending = await self.watcher.next_batch()

    async def apply(self, files: set[str]) -> ReloadReport | None:
        """Reload what changed among ``files`` (real paths); log and return the report.

        Returns:
            The report, or None when no file's content changed.
        """
        async with self._lock:
            return await self._apply(files)

    async def _apply(self, files: set[str]) -> ReloadReport | None:
        started = time.perf_counter()
        report = ReloadReport()
        for _ in range(_MAX_ROUNDS):
            changed = self._changed(files)
            if not changed:
                break
            report.changed += [display_path(file) for file in sorted(changed)]
            await self._apply_changes(changed, report)
            files = await self._follow()
        if not report.changed:
            return None
        report.seconds = time.perf_counter() - started
        summary = report.describe()
        log.log(logging.INFO if report.ok else logging.ERROR, "reload: %s", summary)
        events = self.server.hub.events
        if events.active:
            target = ", ".join(report.changed)
            events.publish(Reloaded(target=target, ok=report.ok, message=summary))
        self.last_report = report
        self.generation += 1
        self._reloaded.set()
        self._reloaded = asyncio.Event()
        return report

    def _changed(self, files: set[str]) -> dict[str, bytes]:
        """Return the digest of each file whose content differs from what is loaded."""
        changed = {}
        for file in files:
            digest = file_digest(Path(file))
            if digest is None:
                if file not in self._missing:
                    self._missing.add(file)
                    log.warning(
                        "reload: %s was deleted; its loaded version keeps serving",
                        display_path(file),
                    )
                continue
            self._missing.discard(file)
            if digest != self._digests.get(file):
                changed[file] = digest
        return changed

    async def _apply_changes(self, changed: dict[str, bytes], report: ReloadReport) -> None:
        # A failed file is not tried again until its content changes.
        self._digests.update(changed)
        modules = self.graph.files()
        names = [name for file in changed for name in modules.get(file, ())]
        if names:
            self._reload_modules(names, report)
        if self._config_file in changed or not changed.keys().isdisjoint(self._spec_files()):
            await self._reload_config(report, spec_only=self._config_file not in changed)

    def _reload_modules(self, names: list[str], report: ReloadReport) -> None:
        loaded = self.graph.modules
        order = self.graph.load_order(self.graph.dependents(names))
        failed: set[str] = set()
        fresh: dict[str, ModuleType] = {}
        with fresh_imports(self.root):
            for name in order:
                if self.graph.imports_of(name) & failed:
                    failed.add(name)
                    report.skipped.append(name)
                    continue
                try:
                    fresh[name] = reload_module(name, sys.modules.get(name) or loaded[name])
                except HandlerError as exc:
                    failed.add(name)
                    report.failed.append(str(exc))
        # Every module is loaded before any handler is swapped, with no await
        # in between: each event runs either all old or all new code.
        slots = self.server.slots
        for name, module in fresh.items():
            self._record(module)
            slot = slots.get(name)
            if slot is not None:
                slot.swap(module)
                report.endpoints += [e.pattern for e in self.server.endpoints if e.handler is slot]
                self._restart_background(slot)
        report.reloaded += fresh

    def _spec_files(self) -> set[str]:
        """The AsyncAPI documents the running config uses, and the files they reference."""
        return {real_path(file) for file in self.server.config.spec_files}

    async def _reload_config(self, report: ReloadReport, *, spec_only: bool = False) -> None:
        try:
            if spec_only or self._config_path is None:
                from ..config.asyncapi import refresh_spec  # only configs with a document get here

                config = refresh_spec(self._file_config or self.server.config)
            elif self._config_path.suffix.lower() in (".yaml", ".yml"):
                # Parsed and validated off the event loop (a large config takes a
                # while); only the swap below runs on it, so connections keep flowing.
                config = await asyncio.to_thread(load_config, self._config_path)
            else:
                # A Python config runs user code, which expects the main thread.
                config = load_config(self._config_path)
        except MockwsError as exc:
            report.config_error = str(exc)
            return
        previous, self._file_config = self._file_config, config
        if previous is not None:
            report.notes += [
                f"{key}: restart mockws to apply the new value"
                for key in _RESTART_ONLY
                if getattr(config, key) != getattr(previous, key)
            ]
        try:
            with fresh_imports(self.root):
                report.config = await self.server.apply_config(config)
        except MockwsError as exc:
            report.config_error = str(exc)

    async def _follow(self) -> set[str]:
        """Follow the current handlers' files; return the files followed anew."""
        # Every slot, not only endpoint handlers: authenticate modules reload too.
        self.graph.update(slot.module.__name__ for slot in self.server.slots.values())
        files = set(self.graph.files())
        for module in self.graph.modules.values():
            self._record(module, only_new=True)
        config_files = self._spec_files()
        if self._config_file is not None:
            config_files.add(self._config_file)
        for file in config_files:
            files.add(file)
            if file not in self._digests:
                self._digests[file] = file_digest(Path(file)) or b""
        new = files - self.watcher.files
        await self.watcher.watch(files)
        return new

    def _record(self, module: ModuleType, *, only_new: bool = False) -> None:
        """Remember the digest of the source ``module`` was loaded from."""
        file = real_path(module.__file__ or "")
        if only_new and file in self._digests:
            return
        loader = getattr(module.__spec__, "loader", None)
        digest = loader.digest if isinstance(loader, SourceOnlyLoader) else None
        self._digests[file] = digest or file_digest(Path(file)) or b""

    def _restart_background(self, slot: HandlerSlot) -> None:
        for done in [key for key, task in self._restarts.items() if task.done()]:
            del self._restarts[done]
        previous = self._restarts.get(slot)
        self._restarts[slot] = asyncio.create_task(
            self._restart(slot, previous), name=f"mockws background restart {slot.spec}"
        )

    async def _restart(self, slot: HandlerSlot, previous: asyncio.Task[None] | None) -> None:
        """Cancel ``slot``'s background task and start the new code's, one restart at a time."""
        if previous is not None:
            await asyncio.wait({previous})
        await self.server.restart_background(slot)


def attach_reloader(server: MockServer) -> Reloader:
    """Reload ``server``'s files while it runs: start watching once it is bound, stop first.

    Call it before ``server.start()``.
    """
    reloader = Reloader(server)
    server.on_started.append(reloader.start)
    server.on_stopping.append(reloader.stop)
    return reloader
