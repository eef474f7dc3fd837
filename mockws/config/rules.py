"""The frozen model of an endpoint's declarative behaviour: rules, steps, matchers.

An endpoint may answer messages without Python (docs/rules.md)::

    on_connect: [steps]         run in order after authentication
    rules: [rule]               the first rule that matches a message runs its steps
    every: [timed push]         steps run on an interval while the endpoint has connections
    script: [steps]             one flow per connection (send, expect, wait...)

:mod:`mockws.config.rules_load` validates the YAML into these classes;
:mod:`mockws.hooks.rules` runs them. Equality ignores where a thing is
written (``key``), so a rule that did not change compares equal across a
reload even if lines moved: its ``seq`` and its timer survive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .durations import DurationRange
from .templates import Condition, Template

__all__ = [
    "Behaviour",
    "Broadcast",
    "Close",
    "Equals",
    "Expect",
    "Fields",
    "JsonPath",
    "Join",
    "Leave",
    "Matcher",
    "OneOf",
    "Pattern",
    "Positions",
    "Regex",
    "Rule",
    "Send",
    "SetState",
    "Step",
    "TimedPush",
    "Wait",
    "describe_behaviour",
]

# -- matchers ------------------------------------------------------------------------


@dataclass(frozen=True)
class Equals:
    """A JSON value that must be equal, and of the same kind (``true`` is not ``1``)."""

    value: Any


@dataclass(frozen=True)
class Regex:
    """``{regex: ...}``: a string value the expression finds a match in (``re.search``)."""

    pattern: re.Pattern[str]


@dataclass(frozen=True)
class OneOf:
    """``{one_of: [...]}``: a value that matches any of the options."""

    options: tuple[Pattern, ...]


@dataclass(frozen=True)
class Fields:
    """A mapping: the message is an object that has each key, with a matching value."""

    items: tuple[tuple[str, Pattern], ...]


@dataclass(frozen=True)
class Positions:
    """A list: the message is a list at least as long, item ``i`` matching pattern ``i``."""

    items: tuple[Pattern, ...]


Pattern: TypeAlias = Equals | Regex | OneOf | Fields | Positions
"""One node of a JSON subset pattern."""


@dataclass(frozen=True)
class JsonPath:
    """A JSONPath (jsonpath-ng's extended syntax) that must find something in the message.

    Attributes:
        text: The path as written; equality compares it.
        compiled: The parsed path.
    """

    text: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class Matcher:
    """What a message must look like; every part given must hold.

    Attributes:
        fields: A JSON subset pattern for messages that parsed as JSON.
        text: A regex searched in text messages that are not JSON.
        jsonpath: A JSONPath that must find something in a JSON message.
        binary: True: only binary messages match; None: not checked.
        shown: The matcher as written, for ``mockws check``.
    """

    fields: Pattern | None = None
    text: re.Pattern[str] | None = None
    jsonpath: JsonPath | None = None
    binary: bool | None = None
    shown: str = field(default="any message", compare=False)

    @property
    def anything(self) -> bool:
        """True when the matcher has no condition."""
        return (
            self.fields is None
            and self.text is None
            and self.jsonpath is None
            and self.binary is None
        )


# -- steps ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send a message to this connection (``send``, ``reply``, ``reply_file``).

    Attributes:
        message: What to send; rendered for each send.
        verb: The key it was written with, for ``mockws check``.
        key: Where it is written in the config.
    """

    message: Template
    verb: str = "send"
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Broadcast:
    """Send a message to every connection of the endpoint, or of the rooms.

    Attributes:
        message: What to send; rendered once per broadcast.
        rooms: Room names (templates); None means the sender's endpoint.
        include_self: Whether the connection that caused it gets it too.
    """

    message: Template
    rooms: tuple[Template, ...] | None = None
    include_self: bool = True
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Join:
    """Put the connection into rooms (a name, or a list of names, rendered)."""

    rooms: Template
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Leave:
    """Take the connection out of rooms (a name, or a list of names, rendered)."""

    rooms: Template
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class SetState:
    """Merge a mapping (rendered) into ``conn.state``."""

    values: Template
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Close:
    """Close the connection with a code and a reason (rendered).

    ``code_key`` is where the code is written, for the error when it may not be sent.
    """

    code: int
    reason: Template
    key: str = field(default="", compare=False)
    code_key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Wait:
    """Pause for a time, or a time drawn uniformly from a range (``delay``, ``wait``)."""

    duration: DurationRange
    verb: str = "wait"
    key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Expect:
    """Wait in a script for a message that matches; on timeout run ``otherwise``.

    Attributes:
        matcher: What the awaited message must look like.
        when: An extra condition on it.
        timeout: Seconds to wait; None waits as long as the connection lives.
        otherwise: Steps run when the timeout passes (then the script ends).
    """

    matcher: Matcher
    when: Condition | None = None
    timeout: float | None = None
    otherwise: tuple[Step, ...] = ()
    key: str = field(default="", compare=False)


Step: TypeAlias = Send | Broadcast | Join | Leave | SetState | Close | Wait | Expect
"""One thing a rule, timed push, ``on_connect`` or script does."""


# -- rules, timed pushes, the whole ---------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """When a message matches (and ``when`` holds), run the steps.

    Attributes:
        matcher: What the message must look like.
        when: A condition on the message and connection.
        delay: Time to wait before the steps (a range draws uniformly).
        steps: What to do, in order.
        key: Where the rule is written (``endpoints[0].rules[2]``).
        line: Its line in the config file.
    """

    matcher: Matcher
    steps: tuple[Step, ...]
    when: Condition | None = None
    delay: DurationRange | None = None
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class TimedPush:
    """Every ``interval`` seconds, while the endpoint has connections, run the steps.

    ``seq`` counts the pushes from 1.
    """

    interval: float
    steps: tuple[Step, ...]
    key: str = field(default="", compare=False)
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Behaviour:
    """An endpoint's declarative keys, validated and compiled.

    Attributes:
        on_connect: Steps run after authentication, before the handler's ``on_connect``.
        rules: Tried in order for each message, before the handler's ``on_message``.
        every: Timed pushes.
        script: Steps run for each connection, beside its messages.
        env: The variables ``env`` shows templates (``template_env``), read at load.
        source_file: The config file, for log lines.
    """

    on_connect: tuple[Step, ...] = ()
    rules: tuple[Rule, ...] = ()
    every: tuple[TimedPush, ...] = ()
    script: tuple[Step, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    source_file: str | None = field(default=None, compare=False)

    def __bool__(self) -> bool:
        return bool(self.on_connect or self.rules or self.every or self.script)


# -- mockws check ----------------------------------------------------------------------


def _describe_step(step: Step) -> str:
    if isinstance(step, Send):
        return step.verb
    if isinstance(step, Broadcast):
        if step.rooms is None:
            return "broadcast" if step.include_self else "broadcast (not to the sender)"
        rooms = ", ".join(str(room.value) for room in step.rooms)
        return f"broadcast to {rooms}" + ("" if step.include_self else " (not to the sender)")
    if isinstance(step, (Join, Leave)):
        verb = "join" if isinstance(step, Join) else "leave"
        return f"{verb} {step.rooms.value}"
    if isinstance(step, SetState):
        return (
            "set " + ", ".join(step.values.value) if isinstance(step.values.value, dict) else "set"
        )
    if isinstance(step, Close):
        return f"close {step.code}"
    if isinstance(step, Wait):
        return f"{step.verb} {_duration(step.duration)}"
    timeout = f" (timeout {step.timeout:g}s)" if step.timeout is not None else ""
    return f"expect {step.matcher.shown}{timeout}"


def _duration(duration: DurationRange) -> str:
    if duration.fixed:
        return f"{duration.low:g}s"
    return f"{duration.low:g}-{duration.high:g}s"


def _steps(steps: tuple[Step, ...]) -> str:
    return ", ".join(_describe_step(step) for step in steps) or "nothing"


def describe_behaviour(behaviour: Behaviour, where: str = "") -> list[str]:
    """Return one line per ``on_connect``, rule, timed push and script (``mockws check``).

    Args:
        behaviour: An endpoint's declarative keys.
        where: The config file as it should be shown, put before each rule's line.
    """
    lines = []
    if behaviour.on_connect:
        lines.append(f"on_connect: {_steps(behaviour.on_connect)}")
    if behaviour.rules:
        lines.append("rules (first match wins):")
    for number, rule in enumerate(behaviour.rules, 1):
        at = f"{where}:{rule.line}  " if rule.line is not None else ""
        when = f" when {rule.when.template.value}" if rule.when is not None else ""
        delay = f" after {_duration(rule.delay)}" if rule.delay is not None else ""
        lines.append(f"  {number}. {at}{rule.matcher.shown}{when} -> {_steps(rule.steps)}{delay}")
    for push in behaviour.every:
        at = f" ({where}:{push.line})" if push.line is not None else ""
        lines.append(f"every {push.interval:g}s{at}: {_steps(push.steps)}")
    if behaviour.script:
        lines.append(f"script: {_steps(behaviour.script)}")
    return lines
