"""Report handler hooks that block the event loop.

A hook runs on the server's only event loop: while one of its synchronous
stretches runs (a ``time.sleep``, a CPU-bound loop, blocking I/O), no other
connection is served. asyncio's own slow-callback warning needs debug mode
and names the session task, not the handler, so every hook call is timed
here instead: a plain function as a whole, a coroutine step by step (the
time between two of its awaits). A stretch longer than the threshold
(``limits.slow_hook_warning``, 0.1 s by default) logs a warning naming the
handler file, the hook and the time. Each server has its own
:class:`HookTimer`, so two servers in one process keep their own threshold.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Generator
from time import perf_counter
from types import CoroutineType
from typing import Any

from ..config.limits import DEFAULT_SLOW_HOOK_WARNING
from ..errors import display_path

__all__ = ["HookTimer"]

log = logging.getLogger("mockws.handler")


def _describe(hook: Callable[..., Any]) -> str:
    code = getattr(hook, "__code__", None)
    name = getattr(hook, "__qualname__", None) or repr(hook)
    if code is None:
        return name
    return f"{display_path(code.co_filename)}:{code.co_firstlineno} {name}"


def _report(
    threshold: float, hook: Callable[..., Any], args: tuple[Any, ...], seconds: float
) -> None:
    if seconds < threshold:
        return
    conn_id = getattr(args[0], "id", None) if args else None
    where = f" (connection {conn_id})" if isinstance(conn_id, str) else ""
    log.warning(
        "%s blocked the event loop for %.3fs%s; every other connection waited "
        "(limits.slow_hook_warning is %.3fs)",
        _describe(hook),
        seconds,
        where,
        threshold,
    )


class _Stepped:
    """Awaits an awaitable one step at a time, timing each synchronous step.

    ``first`` is what the awaitable yielded on a first step already taken
    (and timed) by :func:`timed_call`; it is passed on to the event loop.
    """

    __slots__ = ("_threshold", "_steps", "_hook", "_args", "_first")

    def __init__(
        self,
        threshold: float,
        steps: Coroutine[Any, Any, Any] | Generator[Any, Any, Any],
        hook: Callable[..., Any],
        args: tuple[Any, ...],
        first: Any,
    ) -> None:
        self._threshold = threshold
        self._steps = steps
        self._hook = hook
        self._args = args
        self._first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._steps
        yielded = self._first
        while True:
            try:
                sent, error = (yield yielded), None
            except GeneratorExit:
                close = getattr(steps, "close", None)
                if close is not None:
                    close()
                raise
            except BaseException as exc:  # noqa: B036 - thrown into the hook, as await would
                sent, error = None, exc
            started = perf_counter()
            try:
                yielded = steps.send(sent) if error is None else steps.throw(error)
            except StopIteration as stop:
                _report(self._threshold, self._hook, self._args, perf_counter() - started)
                return stop.value
            except BaseException:
                _report(self._threshold, self._hook, self._args, perf_counter() - started)
                raise
            _report(self._threshold, self._hook, self._args, perf_counter() - started)


class HookTimer:
    """Calls hooks, warning about any that blocks the event loop too long.

    Args:
        threshold: Seconds a synchronous stretch may run before a warning;
            None turns the timing off.
    """

    __slots__ = ("threshold",)

    def __init__(self, threshold: float | None = DEFAULT_SLOW_HOOK_WARNING) -> None:
        self.threshold = threshold

    async def call(self, hook: Callable[..., Any], *args: Any) -> Any:
        """Call a sync or async hook and return its result, timing each stretch."""
        threshold = self.threshold
        if threshold is None:
            result = hook(*args)
            # An async def hook returns a coroutine: test for it first, the cheap way.
            if type(result) is CoroutineType or inspect.isawaitable(result):
                result = await result
            return result
        started = perf_counter()
        result = hook(*args)
        if type(result) is not CoroutineType and not inspect.isawaitable(result):
            _report(threshold, hook, args, perf_counter() - started)
            return result
        # Take the first step here: most hooks finish in it (an echo never waits), and
        # then no stepping wrapper is needed at all.
        steps = result if type(result) is CoroutineType else result.__await__()
        try:
            first = steps.send(None)
        except StopIteration as stop:
            _report(threshold, hook, args, perf_counter() - started)
            return stop.value
        except BaseException:
            _report(threshold, hook, args, perf_counter() - started)
            raise
        _report(threshold, hook, args, perf_counter() - started)
        return await _Stepped(threshold, steps, hook, args, first)
