"""Calling handler hooks safely, and the per-endpoint message pipeline.

Each endpoint has its own stages (``Endpoint.stages``). A message passes
through them in order until one reports that it handled it. Today an
endpoint's only stage is its handler's ``on_message``; declarative rules,
faults, payload validation and proxying slot in as stages before it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..hub.connection import Connection
from ..observe.events import handler_failed
from .loader import HandlerSlot

__all__ = [
    "Stage",
    "handler_stage",
    "report_hook_error",
    "report_protocol_error",
    "run_hook",
    "run_pipeline",
]

log = logging.getLogger("mockws.handler")

Stage = Callable[[Connection, Any], Awaitable[bool]]
"""One step of the pipeline: handles a message (True) or passes it on (False)."""


async def report_hook_error(
    slot: HandlerSlot, conn: Connection, error: BaseException, hook_name: str
) -> bool:
    """Pass ``error`` to the handler's ``on_error``, or log it with its traceback.

    Returns:
        True when ``on_error`` took the error, False when it was only logged.
    """
    events = conn.hub.events
    if events.active:
        events.publish(handler_failed(slot.spec, hook_name, error, conn.id))
    on_error = slot.hook("on_error")
    if on_error is not None:
        try:
            await slot.call(on_error, conn, error)
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


async def report_protocol_error(slot: HandlerSlot, conn: Connection, error: BaseException) -> None:
    """A client broke the protocol: pass it to ``on_error``, or log it as a warning."""
    if slot.hook("on_error") is not None:
        await report_hook_error(slot, conn, error, "the protocol")
        return
    log.warning("%s: protocol error from client: %s", conn.id, error)
    events = conn.hub.events
    if events.active:
        events.publish(handler_failed(slot.spec, "the protocol", error, conn.id))


async def run_hook(slot: HandlerSlot, conn: Connection, hook_name: str, *args: Any) -> bool:
    """Run the handler's hook ``hook_name`` if it has one.

    Returns:
        False if the hook raised and ``on_error`` did not take the error.
    """
    hook = slot.hook(hook_name)
    if hook is None:
        return True
    try:
        await slot.timer.call(hook, conn, *args)
    except Exception as exc:  # noqa: BLE001 - handler errors are reported, never fatal
        return await report_hook_error(slot, conn, exc, hook_name)
    return True


def handler_stage(slot: HandlerSlot) -> Stage:
    """Return the stage that gives every message to ``slot``'s ``on_message``.

    It is the last stage: it handles every message, whether or not the
    handler defines ``on_message``.
    """

    async def on_message(conn: Connection, data: Any) -> bool:
        await run_hook(slot, conn, "on_message", data)
        return True

    return on_message


async def run_pipeline(stages: Sequence[Stage], conn: Connection, data: Any) -> None:
    """Offer ``data`` to each stage in turn until one handles it."""
    for stage in stages:
        if await stage(conn, data):
            return
