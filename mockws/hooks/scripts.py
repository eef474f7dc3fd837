"""A connection's ``script``: steps run beside its messages, with ``expect`` waiting for one.

The script starts once the connection's ``on_connect`` steps have run. An
``expect`` step waits for a message that matches; the message it takes does
not go on to the rules or the handler, and it is ``data`` for the steps
after it. When the timeout passes first, the ``else`` steps run and the
script ends. A hot reload does not touch a script that is running: it
finishes with the steps it started with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..config.rules import Expect, Step
from ..config.template_names import Names
from ..config.templates import Condition
from ..errors import TemplateRenderError
from ..hub.connection import Connection
from .matchers import Check, compile_matcher
from .steps import ConnNames, StepRunner

__all__ = ["Script"]

Report = Callable[[TemplateRenderError, Connection | None], None]


class Script(StepRunner):
    """One connection's run of its endpoint's script.

    Args:
        conn: The connection.
        steps: The script, as it was when the connection opened.
        env: What ``env`` shows templates.
        report: Logs a template's render error.
    """

    def __init__(
        self, conn: Connection, steps: Sequence[Step], env: Mapping[str, str], report: Report
    ) -> None:
        super().__init__(conn.hub, conn.endpoint, conn)
        self._conn = conn
        self._steps = steps
        self._env = env
        self._report = report
        self._waiting: tuple[Check, Condition | None, asyncio.Future[Any]] | None = None
        self._data: Any = None

    @property
    def expecting(self) -> bool:
        """True while an ``expect`` step waits for a message."""
        return self._waiting is not None

    async def main(self) -> None:
        """Run the script to its end (or until the connection closes)."""
        try:
            await self.run(self._steps, ConnNames(self._conn, self._env))
        except TemplateRenderError as exc:
            self._report(exc, self._conn)

    def offer(self, data: Any) -> bool:
        """Give an incoming message to a waiting ``expect``; True when it took it."""
        waiting = self._waiting
        if waiting is None:
            return False
        check, when, future = waiting
        if not check(data):
            return False
        if when is not None:
            try:
                if not when.test(ConnNames(self._conn, self._env, data=data)):
                    return False
            except TemplateRenderError as exc:
                self._report(exc, self._conn)
                return False
        self._waiting = None
        if not future.done():
            future.set_result(data)
        return True

    async def expect(self, step: Expect, names: Names) -> bool:
        """Wait for a matching message; on timeout run ``else`` and end the script."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting = (compile_matcher(step.matcher), step.when, future)
        try:
            if step.timeout is None:
                self._data = await future
            else:
                self._data = await asyncio.wait_for(future, step.timeout)
        except TimeoutError:
            self._waiting = None
            await self.run(step.otherwise, names)
            return False
        return True

    def after_expect(self, names: Names) -> Names:
        """The steps after an ``expect`` see the message it took as ``data``."""
        return ConnNames(self._conn, self._env, data=self._data)
