"""CPU time and resident memory of another process, read from /proc (Linux)."""

from __future__ import annotations

import os
import time

__all__ = ["cpu_seconds", "rss_bytes", "wait_until_quiet"]

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as stat:
        text = stat.read()
    # The command name (field 2) may hold spaces; fields after it are plain.
    fields = text[text.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    """Return the resident set size of ``pid`` in bytes."""
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return int(statm.read().split()[1]) * _PAGE


def wait_until_quiet(
    pid: int, *, window: float = 0.25, busy: float = 0.02, timeout: float = 30.0
) -> float:
    """Wait until ``pid`` uses under ``busy`` of a core over ``window`` seconds.

    A scenario that starts while the server still finishes the last one's
    work (closing 10,000 idle connections takes mockws about a second of
    CPU) would count that work as its own. Returns the seconds waited; gives
    up after ``timeout``.
    """
    started = time.monotonic()
    before = cpu_seconds(pid)
    while time.monotonic() - started < timeout:
        time.sleep(window)
        now = cpu_seconds(pid)
        if now - before < busy * window:
            break
        before = now
    return time.monotonic() - started
