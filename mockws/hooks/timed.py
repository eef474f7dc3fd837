"""An endpoint's ``every`` pushes: timers that run only while the endpoint has connections.

An idle server does no work: the timers start when the endpoint's first
connection opens and stop when its last one closes. ``seq`` counts each
push's runs from 1 and goes on counting across stops. A reload keeps the
timers of pushes it did not change (same interval and steps), with their
``seq`` and their rhythm; it stops removed ones and starts new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from ..config.rules import TimedPush
from ..errors import TemplateRenderError
from ..hub.hub import Hub
from .steps import ConnNames, StepRunner

__all__ = ["TimedPushes"]

log = logging.getLogger("mockws.rules")

Report = Callable[[TemplateRenderError, None], None]


class _Timer:
    """One push's timer and count."""

    def __init__(self, push: TimedPush) -> None:
        self.push = push
        self.seq = 0
        self.task: asyncio.Task[None] | None = None
        self.last_error: str | None = None

    async def run(self, hub: Hub, endpoint: str, env: Mapping[str, str], report: Report) -> None:
        loop = asyncio.get_running_loop()
        interval = self.push.interval
        runner = StepRunner(hub, endpoint)
        due = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.seq += 1
            try:
                await runner.run(self.push.steps, ConnNames(None, env, seq=self.seq))
                self.last_error = None
            except TemplateRenderError as exc:
                # Once per distinct error, not once a tick.
                if str(exc) != self.last_error:
                    self.last_error = str(exc)
                    report(exc, None)
            except Exception:  # noqa: BLE001 - a failed push must not stop the timer
                log.exception("%s: timed push failed", self.push.key)
            # Keep the rhythm; after a late run, skip the ticks it missed.
            due += interval
            now = loop.time()
            if due < now:
                due = now + interval - (now - due) % interval


class TimedPushes:
    """The ``every`` timers of one endpoint.

    Args:
        endpoint: The endpoint's pattern.
        report: Logs a push's render error.
    """

    def __init__(self, endpoint: str, report: Report) -> None:
        self.endpoint = endpoint
        self._report = report
        self._timers: list[_Timer] = []
        self._env: Mapping[str, str] = {}

    @property
    def running(self) -> bool:
        """True while the timers run (the endpoint has connections)."""
        return any(timer.task is not None for timer in self._timers)

    def seq(self, index: int) -> int:
        """How many times push ``index`` has run."""
        return self._timers[index].seq

    def install(self, pushes: Sequence[TimedPush], env: Mapping[str, str], hub: Hub | None) -> None:
        """Serve ``pushes`` from now on, keeping the timers of those that did not change.

        Args:
            pushes: The endpoint's ``every`` list.
            env: What ``env`` shows templates.
            hub: The hub, when the endpoint has connections now (timers start); else None.
        """
        kept: list[_Timer] = []
        old = list(self._timers)
        for push in pushes:
            match = next((timer for timer in old if timer.push == push), None)
            if match is not None:
                old.remove(match)
                kept.append(match)
            else:
                kept.append(_Timer(push))
        for timer in old:
            self._cancel(timer)
        self._timers, self._env = kept, env
        if hub is not None:
            self.start(hub)

    def start(self, hub: Hub) -> None:
        """Start every timer not yet running (the endpoint's first connection opened)."""
        for timer in self._timers:
            if timer.task is None:
                timer.task = asyncio.create_task(
                    timer.run(hub, self.endpoint, self._env, self._report),
                    name=f"mockws every {timer.push.key}",
                )

    def stop(self) -> None:
        """Stop every timer (the endpoint's last connection closed)."""
        for timer in self._timers:
            self._cancel(timer)

    def _cancel(self, timer: _Timer) -> None:
        if timer.task is not None:
            timer.task.cancel()
            timer.task = None

    async def wait_stopped(self) -> None:
        """Wait for cancelled timers to finish (server shutdown)."""
        tasks = [timer.task for timer in self._timers if timer.task is not None]
        self.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
