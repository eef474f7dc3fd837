"""Report changes to a set of files, watching their folders with watchfiles.

The folders are watched one by one, not recursively: a project folder often
holds ``node_modules`` or a virtualenv, and watching those recursively costs
seconds and thousands of inotify watches. Folders rather than the files
themselves are watched because editors often save by writing a new file and
renaming it over the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import awatch

from .modgraph import real_path

__all__ = ["STEP_MS", "FileWatcher"]

log = logging.getLogger("mockws.reload")

# A change is reported once no other change has followed it for STEP_MS, so
# an editor's several writes of one save arrive as one batch.
STEP_MS = 30
DEBOUNCE_MS = 1_600
_STOP_TIMEOUT = 2.0


class _Watch:
    """One running ``awatch`` over a fixed set of folders."""

    def __init__(
        self,
        folders: frozenset[str],
        wanted: Callable[[str], bool],
        sink: Callable[[set[str]], None],
    ) -> None:
        self.folders = folders
        self.stop_event = asyncio.Event()
        self._wanted = wanted
        self._sink = sink
        self.task = asyncio.create_task(self._run(), name="mockws file watcher")

    async def _run(self) -> None:
        try:
            async for changes in awatch(
                *sorted(self.folders),
                watch_filter=lambda _change, path: self._wanted(path),
                stop_event=self.stop_event,
                step=STEP_MS,
                debounce=DEBOUNCE_MS,
                recursive=False,
            ):
                self._sink({real_path(path) for _, path in changes})
        except Exception as exc:  # noqa: BLE001 - reload stops, serving goes on
            log.error("file watching stopped: %s", exc)

    async def stop(self) -> None:
        self.stop_event.set()
        _, pending = await asyncio.wait({self.task}, timeout=_STOP_TIMEOUT)
        if pending:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class FileWatcher:
    """Watches the folders of a set of files and queues the changed ones.

    Call :meth:`watch` with the files to follow (again whenever they change),
    then read batches of changed files with :meth:`next_batch`.
    """

    def __init__(self) -> None:
        self._files: frozenset[str] = frozenset()
        self._watch: _Watch | None = None
        self._queue: asyncio.Queue[set[str]] = asyncio.Queue()

    @property
    def files(self) -> frozenset[str]:
        """The watched files (real paths)."""
        return self._files

    def _wanted(self, path: str) -> bool:
        return path in self._files or real_path(path) in self._files

    async def watch(self, files: Iterable[str | Path]) -> None:
        """Follow exactly ``files`` from now on; returns once they are watched.

        When the set of folders changes, the new watcher starts before the
        old one stops, so no save in between goes unseen (a change seen by
        both arrives twice; callers compare contents anyway).
        """
        self._files = frozenset(real_path(file) for file in files)
        folders = frozenset(
            folder
            for folder in (str(Path(file).parent) for file in self._files)
            if Path(folder).is_dir()
        )
        if self._watch is not None and self._watch.folders == folders:
            return
        previous = self._watch
        self._watch = _Watch(folders, self._wanted, self._queue.put_nowait) if folders else None
        # awatch sets up its OS watches before its first suspension point.
        await asyncio.sleep(0)
        if previous is not None:
            await previous.stop()

    async def next_batch(self) -> set[str]:
        """Wait for changes, then return every changed file queued so far."""
        batch = await self._queue.get()
        while not self._queue.empty():
            batch |= self._queue.get_nowait()
        return batch

    async def close(self) -> None:
        """Stop watching."""
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None
