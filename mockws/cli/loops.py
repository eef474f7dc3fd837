"""The event loop ``mockws serve`` runs on: uvloop when installed, else asyncio's.

uvloop (the ``speed`` extra) cuts the CPU cost of an echoed message by 10-15%
in our benchmark; it is imported only when chosen, so a plain install pays
nothing.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..errors import MockwsError

__all__ = ["LOOP_CHOICES", "LoopUnavailable", "loop_factory", "run"]

LOOP_CHOICES = ("auto", "asyncio", "uvloop")

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

    Raises:
        LoopUnavailable: ``"uvloop"`` was asked for and is not installed.
    """
    try:
        _, factory = loop_factory(choice)
    except BaseException:
        main.close()
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
