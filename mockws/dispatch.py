"""Calling handler hooks safely, and the per-message pipeline.

A message passes through the endpoint's stages in order until one reports
that it handled the message. Today the only stage is the handler's
``on_message``; declarative rules will slot in before it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .connection import Connection
from .events import handler_failed
from .handlers import call_hook
from .hooktimer import timed_call

__all__ = ["Stage", "handler_stage", "report_hook_error", "run_hook", "run_pipeline"]

log = logging.getLogger("mockws.handler")

Stage = Callable[[Connection, Any], Awaitable[bool]]


async def report_hook_error(conn: Connection, error: BaseException, hook_name: str) -> bool:
    """Pass ``error`` to the handler's ``on_error``, or log it with its traceback.

    Returns:
        True when ``on_error`` took the error, False when it was only logged.
    """
    slot = conn._endpoint.handler
    if conn._events.active:
        conn._events.publish(handler_failed(slot.spec, hook_name, error, conn.id))
    on_error = slot.hook("on_error")
    if on_error is not None:
        try:
            await call_hook(on_error, conn, error)
            return True
        except Exception as nested:  # noqa: BLE001 - a handler bug must not stop the server
            log.error(
                "%s: on_error raised while handling an error from %s (connection %s)",
                slot.spec,
                hook_name,
                conn.id,
                exc_info=nested,
            )
    log.error(
        "%s: %s raised (connection %s, %s)",
        slot.spec,
        hook_name,
        conn.id,
        conn.path,
        exc_info=error,
    )
    return False


async def run_hook(conn: Connection, hook_name: str, *args: Any) -> bool:
    """Run the handler's hook ``hook_name`` if it has one.

    Returns:
        False if the hook raised and ``on_error`` did not take the error.
    """
    hook = conn._endpoint.handler.hook(hook_name)
    if hook is None:
        return True
    try:
        # timed_call rather than call_hook: one coroutine less, once per message.
        await timed_call(hook, conn, *args)
    except Exception as exc:  # noqa: BLE001 - handler errors are reported, never fatal
        return await report_hook_error(conn, exc, hook_name)
    return True


async def handler_stage(conn: Connection, data: Any) -> bool:
    """Give the message to the handler's ``on_message``; always handles it."""
    await run_hook(conn, "on_message", data)
    return True


DEFAULT_STAGES: tuple[Stage, ...] = (handler_stage,)


async def run_pipeline(stages: Sequence[Stage], conn: Connection, data: Any) -> None:
    """Offer ``data`` to each stage in turn until one handles it."""
    for stage in stages:
        if await stage(conn, data):
            return
