"""Declarative endpoints at run time: the rules stage, ``on_connect`` steps, scripts, timers.

One :class:`RuleBook` per endpoint pattern holds what the config declares
(:class:`~mockws.config.rules.Behaviour`) and is swapped in place when the
config reloads (:meth:`RuleBook.install`), like a handler module in its
slot: an open connection uses the new rules from its next message, a
running script finishes with its old steps, unchanged timers keep running.

- :meth:`RuleBook.stage` is the pipeline stage before the handler's
  ``on_message``: a message a waiting ``expect`` takes, or the first rule
  that matches it (and whose ``when`` holds), is handled there.
- :meth:`RuleBook.opened` / :meth:`RuleBook.closed` run around a connection:
  ``on_connect`` steps, the script, starting and stopping the ``every`` timers.
- :func:`unmatched_stage` ends the pipeline of an endpoint with no handler:
  what no rule matched is logged once per endpoint and shown in the inspector.

A rule whose steps wait (``delay``, ``wait``) runs beside the connection's
next messages rather than holding them up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.rules import Behaviour, Close, Expect, Rule, Send, Step, Wait
from ..config.templates import Condition, Template
from ..errors import TemplateRenderError
from ..hub.connection import Connection
from ..observe.events import HandlerFailed, message_unmatched, preview
from .delay import pause
from .matchers import Check, RuleIndex, compile_matcher
from .pipeline import Stage
from .scripts import Script
from .steps import ConnNames, StepRunner
from .timed import TimedPushes

__all__ = ["RuleBook", "close_steps", "unmatched_stage"]

log = logging.getLogger("mockws.rules")

# Templates that read only these names get a plain dict (the echo hot path).
_PLAIN_NAMES = frozenset({"data", "seq"})


@dataclass(eq=False)
class _Compiled:
    rule: Rule
    check: Check
    waits: bool
    plain: bool
    seq: int = 0


def _steps_wait(steps: Sequence[Step]) -> bool:
    return any(isinstance(step, Wait) for step in steps)


def _rule_names(rule: Rule) -> frozenset[str]:
    names: frozenset[str] = rule.when.names if rule.when is not None else frozenset()
    for step in _walk(rule.steps):
        for template in _templates(step):
            names |= template.names
    return names


def _templates(step: Step) -> Iterator[Template | Condition]:
    for value in vars(step).values():
        if isinstance(value, (Template, Condition)):
            yield value
        elif isinstance(value, tuple):
            yield from (item for item in value if isinstance(item, (Template, Condition)))


def _walk(steps: Sequence[Step]) -> Iterator[Step]:
    for step in steps:
        yield step
        if isinstance(step, Expect):
            yield from _walk(step.otherwise)


def close_steps(behaviour: Behaviour) -> Iterator[Close]:
    """Every ``close`` step in ``behaviour``, for checking its code."""
    lists: list[Sequence[Step]] = [behaviour.on_connect, behaviour.script]
    lists += [rule.steps for rule in behaviour.rules]
    lists += [push.steps for push in behaviour.every]
    for steps in lists:
        yield from (step for step in _walk(steps) if isinstance(step, Close))


class RuleBook:
    """The declarative behaviour of one endpoint pattern, swapped in place on reload.

    Args:
        pattern: The endpoint's pattern.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.behaviour = Behaviour()
        self.timers = TimedPushes(pattern, self._report)
        self._index: RuleIndex[_Compiled] = RuleIndex(())
        self._env: dict[str, str] = {}
        self._connections: set[Connection] = set()
        self._scripts: dict[Connection, Script] = {}
        self._tasks: dict[Connection, set[asyncio.Task[None]]] = {}
        self._unmatched_logged = False

    # -- configuration ---------------------------------------------------------------

    def install(self, behaviour: Behaviour | None) -> None:
        """Serve ``behaviour`` from now on (None: the endpoint declares nothing).

        Rules that did not change keep their ``seq``; timers likewise.
        """
        behaviour = behaviour or Behaviour()
        previous = {item.rule: item.seq for item in self._index.rules}
        compiled = []
        for rule in behaviour.rules:
            item = _Compiled(
                rule=rule,
                check=compile_matcher(rule.matcher),
                waits=rule.delay is not None or _steps_wait(rule.steps),
                plain=_rule_names(rule) <= _PLAIN_NAMES,
                seq=previous.get(rule, 0),
            )
            compiled.append(item)
        self._index = RuleIndex([(item.rule.matcher, item) for item in compiled])
        self._env = dict(behaviour.env)
        self.behaviour = behaviour
        self._unmatched_logged = False
        hub = next(iter(self._connections)).hub if self._connections else None
        self.timers.install(behaviour.every, self._env, hub)

    def seq(self, index: int) -> int:
        """How many times rule ``index`` has run."""
        return self._index.rules[index].seq

    # -- connections -----------------------------------------------------------------

    async def opened(self, conn: Connection) -> bool:
        """Run ``on_connect`` steps, start the script, start the timers with the first connection.

        Returns:
            False when an ``on_connect`` step closed the connection.
        """
        self._connections.add(conn)
        behaviour = self.behaviour
        if len(self._connections) == 1 and behaviour.every:
            self.timers.start(conn.hub)
        if behaviour.on_connect:
            runner = StepRunner(conn.hub, self.pattern, conn)
            try:
                if not await runner.run(behaviour.on_connect, ConnNames(conn, self._env)):
                    return False
            except TemplateRenderError as exc:
                self._report(exc, conn)
        if behaviour.script:
            script = Script(conn, behaviour.script, self._env, self._report)
            self._scripts[conn] = script
            self._spawn(conn, script.main(), "script")
        return True

    def closed(self, conn: Connection) -> None:
        """Forget the connection: cancel its script and waiting rules; stop idle timers."""
        self._connections.discard(conn)
        self._scripts.pop(conn, None)
        for task in self._tasks.pop(conn, ()):
            task.cancel()
        if not self._connections:
            self.timers.stop()

    async def stop(self) -> None:
        """Stop everything (the endpoint is gone or the server stops)."""
        for conn in list(self._tasks):
            for task in self._tasks.pop(conn, ()):
                task.cancel()
        await self.timers.wait_stopped()

    # -- messages --------------------------------------------------------------------

    async def stage(self, conn: Connection, data: Any) -> bool:
        """Handle ``data`` if a waiting ``expect`` or a rule takes it; else pass it on."""
        if self._scripts:
            script = self._scripts.get(conn)
            if script is not None and script.offer(data):
                return True
        for item in self._index.candidates(data):
            if not item.check(data):
                continue
            rule = item.rule
            seq = item.seq + 1
            names: Any
            if item.plain:
                names = {"data": data, "seq": seq}
            else:
                names = ConnNames(conn, self._env, data=data, seq=seq)
            if rule.when is not None:
                try:
                    if not rule.when.test(names):
                        continue
                except TemplateRenderError as exc:
                    self._report(exc, conn)
                    return True
            item.seq = seq
            if item.waits:
                self._spawn(conn, self._run(rule, conn, names), rule.key)
            else:
                await self._run(rule, conn, names)
            return True
        return False

    async def _run(self, rule: Rule, conn: Connection, names: Any) -> None:
        try:
            if rule.delay is not None:
                await pause(rule.delay)
            steps = rule.steps
            if len(steps) == 1 and type(steps[0]) is Send:
                await conn.send(steps[0].message.render(names))
                return
            await StepRunner(conn.hub, self.pattern, conn).run(steps, names)
        except TemplateRenderError as exc:
            self._report(exc, conn)

    def unmatched(self, conn: Connection, data: Any) -> None:
        """Note a message no rule matched on an endpoint without ``on_message``."""
        events = conn.hub.events
        if not self._unmatched_logged or events.active:
            text = _as_text(data)
            if not self._unmatched_logged:
                self._unmatched_logged = True
                shown, cut = preview(text, isinstance(text, bytes), limit=200)
                log.warning(
                    "%s: no rule matched a message from %s (%s%s) and the endpoint has no "
                    "handler; further unmatched messages on it are not logged (the inspector "
                    "shows them)",
                    self.pattern,
                    conn.id,
                    shown,
                    "..." if cut else "",
                )
            if events.active:
                events.publish(message_unmatched(conn.id, self.pattern, text))

    # -- helpers ---------------------------------------------------------------------

    def _spawn(self, conn: Connection, work: Any, what: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work, name=f"mockws {what} {conn.id}")
        tasks = self._tasks.setdefault(conn, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(_log_failure)

    def _report(self, error: TemplateRenderError, conn: Connection | None) -> None:
        """Log a template's render error with its file, line and key; show it in the inspector."""
        who = f" (connection {conn.id})" if conn is not None else ""
        log.error("%s%s; not sent", error, who)
        hub = conn.hub if conn is not None else self._any_hub()
        if hub is not None and hub.events.active:
            hub.events.publish(
                HandlerFailed(
                    handler=f"rules of {self.pattern}",
                    hook=error.key or "template",
                    error=f"TemplateRenderError: {error.message}",
                    conn_id=conn.id if conn is not None else None,
                )
            )

    def _any_hub(self) -> Any:
        return next(iter(self._connections)).hub if self._connections else None


def _as_text(data: Any) -> str | bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if isinstance(data, str):
        return data
    try:
        return json.dumps(data, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(data)


def _log_failure(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("%s failed", task.get_name(), exc_info=error)


def unmatched_stage(book: RuleBook) -> Stage:
    """The last stage of an endpoint with rules and no handler: note what no rule took."""

    async def unmatched(conn: Connection, data: Any) -> bool:
        book.unmatched(conn, data)
        return True

    return unmatched
