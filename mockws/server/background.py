"""The ``background(hub)`` task of each handler module in use.

Started when a module comes into use, cancelled when it goes out of use or
the server stops, and restarted (old task first) when a reload swaps the
module. A task that ignores its cancellation for ``grace`` seconds is logged
and abandoned: it no longer holds up a reload or the exit, and the hub
refuses its broadcasts (:meth:`~mockws.hub.hub.Hub.revoke_task`), so a stale
generation cannot go on broadcasting after a reload.
"""

from __future__ import annotations

import asyncio
import logging

from ..hooks.loader import HandlerSlot
from ..hub.hub import Hub
from ..observe.events import handler_failed

__all__ = ["BACKGROUND_GRACE", "BackgroundTasks"]

log = logging.getLogger("mockws.server")

BACKGROUND_GRACE = 2.0


class BackgroundTasks:
    """The running ``background`` tasks of one server, one per handler module.

    Args:
        hub: Passed to every ``background(hub)``.
        grace: Seconds a cancelled task may take to end.
    """

    def __init__(self, hub: Hub, grace: float = BACKGROUND_GRACE) -> None:
        self.hub = hub
        self.grace = grace
        self._tasks: dict[HandlerSlot, asyncio.Task[None]] = {}

    def __contains__(self, slot: object) -> bool:
        return slot in self._tasks

    def start(self, slot: HandlerSlot) -> None:
        """Start ``slot``'s ``background(hub)``, if the module has one."""
        hook = slot.hook("background")
        if hook is None:
            return
        task = asyncio.create_task(slot.call(hook, self.hub), name=f"mockws background {slot.spec}")
        task.add_done_callback(lambda done: self._ended(slot, done))
        self._tasks[slot] = task

    async def stop(self, slot: HandlerSlot) -> None:
        """Cancel ``slot``'s task and wait up to the grace period for it to end."""
        task = self._tasks.pop(slot, None)
        if task is None or task.done():
            return
        task.cancel()
        _, pending = await asyncio.wait({task}, timeout=self.grace)
        if pending:
            self.hub.revoke_task(task)
            log.warning(
                "%s: background task ignored cancellation for %gs; abandoned "
                "(its broadcasts are refused; it does not hold up reloads or the exit)",
                slot.spec,
                self.grace,
            )

    async def stop_all(self) -> None:
        """Stop every task."""
        await asyncio.gather(*(self.stop(slot) for slot in list(self._tasks)))

    def _ended(self, slot: HandlerSlot, task: asyncio.Task[None]) -> None:
        self.hub.forget_task(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("%s: background task raised", slot.spec, exc_info=error)
            events = self.hub.events
            if events.active:
                events.publish(handler_failed(slot.spec, "background", error))
