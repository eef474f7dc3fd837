"""The event loop ``mockws serve`` runs on: uvloop when installed, else asyncio's.

uvloop (the ``speed`` extra) cuts the CPU cost of an echoed message by 10-15%
in our benchmark; it is imported only when chosen, so a plain install pays
nothing.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import MockwsError

__all__ = ["EXIT_GRACE", "LOOP_CHOICES", "LoopUnavailable", "loop_factory", "run"]

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
# Seconds the tasks still running at exit get to end once cancelled; then they are abandoned.
EXIT_GRACE = 2.0

log = logging.getLogger("mockws.server")

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(MockwsError):
    """The event loop asked for is not installed."""

    exit_code = 2


def loop_factory(choice: str = "auto") -> tuple[str, LoopFactory | None]:
    """Return the name of the loop ``choice`` selects and its factory.

    Args:
        choice: ``"auto"`` (uvloop if installed, else asyncio), ``"asyncio"``
            or ``"uvloop"``.

    Returns:
        ``("uvloop", uvloop.new_event_loop)`` or ``("asyncio", None)``; None
        lets asyncio make its default loop.

    Raises:
        LoopUnavailable: ``"uvloop"`` was asked for and is not installed.
        ValueError: ``choice`` is not one of :data:`LOOP_CHOICES`.
    """
    if choice not in LOOP_CHOICES:
        raise ValueError(f"unknown event loop {choice!r}; choose one of {', '.join(LOOP_CHOICES)}")
    if choice == "asyncio":
        return "asyncio", None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            raise LoopUnavailable(
                "uvloop is not installed: pip install 'mockws[speed]' (or use --loop asyncio)"
            ) from None
        return "asyncio", None
    factory: LoopFactory = uvloop.new_event_loop
    return "uvloop", factory


def run(main: Coroutine[Any, Any, T], choice: str = "auto") -> T:
    """Run ``main`` to completion on the loop ``choice`` selects.

    Unlike ``asyncio.run``, which waits for every remaining task once
    cancelled, tasks still running when ``main`` ends (a handler's
    ``background`` that swallows ``CancelledError``, say) get
    :data:`EXIT_GRACE` seconds, then are abandoned so that the process exits.

    Raises:
        LoopUnavailable: ``"uvloop"`` was asked for and is not installed.
    """
    try:
        _, factory = loop_factory(choice)
    except BaseException:
        main.close()
        raise
    loop = factory() if factory is not None else asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _end_remaining(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _end_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on ``loop``, wait a bounded time, and abandon the rest."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=EXIT_GRACE))
        if pending:
            names = ", ".join(sorted(task.get_name() for task in pending))
            log.warning(
                "%d task(s) ignored cancellation for %gs at exit; abandoned: %s",
                len(pending),
                EXIT_GRACE,
                names,
            )
    for step in (loop.shutdown_asyncgens(), loop.shutdown_default_executor()):
        try:
            loop.run_until_complete(asyncio.wait_for(step, EXIT_GRACE))
        except (TimeoutError, RuntimeError):
            pass
