"""The file watcher: changes to followed files arrive as batches, others are ignored."""

from __future__ import annotations

import asyncio

from mockws.reload.watcher import FileWatcher

from ..helpers import WriteFile


async def test_change_right_after_watch_returns_is_reported(write: WriteFile) -> None:
    """watch() returns once watching: a save just after it is seen; other files are not."""
    followed = write("w/followed.py", "a = 1\n")
    write("w/ignored.py", "b = 1\n")
    watcher = FileWatcher()
    try:
        await watcher.watch([followed])
        write("w/ignored.py", "b = 2\n")
        write("w/followed.py", "a = 2\n")
        batch = await asyncio.wait_for(watcher.next_batch(), 3)
        assert batch == {str(followed.resolve())}
    finally:
        await watcher.close()


async def test_switching_folders_misses_no_save(write: WriteFile) -> None:
    """Following a file in a new folder keeps watching the old one until the new one is up."""
    first = write("w1/one.py", "x = 1\n")
    second = write("w2/two.py", "y = 1\n")
    watcher = FileWatcher()
    try:
        await watcher.watch([first])
        await watcher.watch([first, second])
        write("w2/two.py", "y = 2\n")
        assert await asyncio.wait_for(watcher.next_batch(), 3) == {str(second.resolve())}
        write("w1/one.py", "x = 2\n")
        assert await asyncio.wait_for(watcher.next_batch(), 3) == {str(first.resolve())}
    finally:
        await watcher.close()


async def test_atomic_save_by_rename_is_reported(write: WriteFile) -> None:
    """An editor that writes a temporary file and renames it over the original is seen."""
    target = write("w3/h.py", "x = 1\n")
    watcher = FileWatcher()
    try:
        await watcher.watch([target])
        temporary = write("w3/.h.py.swp", "x = 2\n")
        temporary.replace(target)
        batch = await asyncio.wait_for(watcher.next_batch(), 3)
        assert str(target.resolve()) in batch
    finally:
        await watcher.close()
