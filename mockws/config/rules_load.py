"""Validate an endpoint's ``on_connect``, ``rules``, ``every`` and ``script`` keys.

Every mistake is a :class:`~mockws.errors.ConfigError` at file:line:key: an
unknown step (with did-you-mean), two message steps where one fits, a step
in a place it cannot run, a template that does not compile or uses a name
that does not exist there, a bad regex or JSONPath, a duration like
``5 sec``, a close code that may not be sent. The result is the frozen
:class:`~mockws.config.rules.Behaviour` that :mod:`mockws.hooks.rules` runs.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .keys import KeyReader, describe_value
from .matchers_load import parse_matcher
from .rules import (
    Behaviour,
    Broadcast,
    Close,
    Expect,
    Join,
    Leave,
    Rule,
    Send,
    SetState,
    Step,
    TimedPush,
    Wait,
)
from .socketio import event_name, parse_emit
from .templates import Template, compile_condition, compile_value
from .yaml_source import SourceMap

__all__ = ["BEHAVIOUR_KEYS", "STEP_KEYS", "parse_behaviour"]

BEHAVIOUR_KEYS = ("rules", "on_connect", "every", "script")
"""The endpoint keys this module reads."""

STEP_KEYS = (
    "send",
    "reply",
    "reply_file",
    "broadcast",
    "emit",
    "join",
    "leave",
    "set",
    "close",
    "delay",
    "wait",
    "expect",
    "do",
)
"""Every step, as a key of a rule, a timed push or a list item."""

_MESSAGE_STEPS = ("send", "reply", "reply_file", "broadcast", "emit")
_BROADCAST_OPTIONS = ("rooms", "include_self", "event")
_CONNECTION_NAMES = frozenset({"conn", "params", "query"})
# The names templates may use, by where the step runs (the base names come on top).
_NAMES = {
    "rules": _CONNECTION_NAMES | {"data", "seq"},
    "on_connect": _CONNECTION_NAMES,
    "script": _CONNECTION_NAMES | {"data"},
    "every": frozenset({"seq"}),
}
_BASE_NAMES = frozenset({"now", "now_ms", "uuid", "env"})
# Steps that need a connection, which a timed push does not have.
_NEEDS_CONNECTION = ("reply", "reply_file", "join", "leave", "set", "close", "expect")


class _Place:
    """Where steps are being read: the section (rules, every...), the file's folder."""

    def __init__(self, section: str, source: SourceMap, base_dir: Path) -> None:
        self.section = section
        self.source = source
        self.base_dir = base_dir

    def template(self, value: Any, key: str, *, per_connection: bool = False) -> Template:
        template = compile_value(value, key, self.source)
        self.check(template, key, per_connection=per_connection)
        return template

    def check(self, template: Template, key: str, *, per_connection: bool = False) -> None:
        """Refuse a template that uses a name that does not exist where it runs."""
        allowed = _NAMES[self.section] | _BASE_NAMES
        if per_connection:
            allowed |= _CONNECTION_NAMES
        unknown = sorted(template.names - allowed)
        if unknown:
            name = unknown[0]
            hint = difflib.get_close_matches(name, sorted(allowed), n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            raise self.source.error(
                key,
                f"template name '{name}' does not exist here{suggestion}; "
                f"names in {self.section}: {', '.join(sorted(allowed))}",
            )


def parse_behaviour(section: KeyReader, base_dir: Path, env: Mapping[str, str]) -> Behaviour | None:
    """Read an endpoint's declarative keys; None when it has none of them.

    Args:
        section: The endpoint's mapping.
        base_dir: The folder ``reply_file`` paths resolve against.
        env: The variables that the top-level ``template_env`` lets templates read.

    Raises:
        ConfigError: Any mistake, at its file, line and key.
    """
    if not any(section.has(name) for name in BEHAVIOUR_KEYS):
        return None
    source = section.source

    def place(name: str) -> _Place:
        return _Place(name, source, base_dir)

    behaviour = Behaviour(
        on_connect=_step_list(
            section.raw("on_connect"), section.path("on_connect"), place("on_connect")
        ),
        rules=tuple(
            _rule(item, key, place("rules"))
            for key, item in _items(section.raw("rules"), section.path("rules"), source)
        ),
        every=tuple(
            _timed_push(item, key, place("every"))
            for key, item in _items(section.raw("every"), section.path("every"), source)
        ),
        script=_step_list(section.raw("script"), section.path("script"), place("script")),
        env=tuple(sorted(env.items())),
        source_file=str(source.file) if source.file is not None else None,
    )
    return behaviour


def parse_upstream_rules(
    section: KeyReader, base_dir: Path, env: Mapping[str, str]
) -> Behaviour | None:
    """Read a proxied endpoint's ``upstream_rules``: rules on upstream messages.

    They are written like ``rules`` (``data`` is the upstream's message;
    ``reply`` sends to this client instead of it), plus ``drop: true``,
    short for ``do: []``: drop what the rule matches.
    """
    value = section.raw("upstream_rules")
    if value is None:
        return None
    source = section.source
    place = _Place("rules", source, base_dir)
    rules = []
    for key, item in _items(value, section.path("upstream_rules"), source):
        if isinstance(item, Mapping) and "drop" in item:
            if item["drop"] is not True:
                raise source.error(f"{key}.drop", "expected true (drop what the rule matches)")
            others = [name for name in item if name in STEP_KEYS]
            if others:
                raise source.error(f"{key}.drop", f"'drop' leaves nothing for '{others[0]}' to do")
            item = {**{name: item[name] for name in item if name != "drop"}, "do": []}
        rules.append(_rule(item, key, place))
    return Behaviour(
        rules=tuple(rules),
        env=tuple(sorted(env.items())),
        source_file=str(source.file) if source.file is not None else None,
    )


def _items(value: Any, key: str, source: SourceMap) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise source.error(key, f"expected a list, got {describe_value(value)}")
    return [(f"{key}[{index}]", item) for index, item in enumerate(value)]


def _rule(data: Any, key: str, place: _Place) -> Rule:
    reader = KeyReader(data, key, place.source, "a rule: a mapping with 'match' and steps")
    matcher = parse_matcher(reader.raw("match"), reader.path("match"), place.source)
    when = reader.raw("when")
    condition = None
    if when is not None:
        condition = compile_condition(when, reader.path("when"), place.source)
        place.check(condition.template, reader.path("when"))
    delay = reader.duration_range("delay")
    steps = _body(reader, place, with_delay=False)
    reader.finish(("match", "when", *STEP_KEYS, *_BROADCAST_OPTIONS))
    if not steps and not reader.has("do"):
        raise place.source.error(
            key,
            "a rule needs a step to run (reply, broadcast, ...); "
            "write 'do: []' to drop the messages it matches",
        )
    return Rule(
        matcher=matcher,
        when=condition,
        delay=delay,
        steps=steps,
        key=key,
        line=place.source.line_of(key),
    )


def _timed_push(data: Any, key: str, place: _Place) -> TimedPush:
    reader = KeyReader(data, key, place.source, "a timed push: a mapping with 'interval' and steps")
    if not reader.has("interval"):
        raise place.source.error(key, "missing required key 'interval' (such as 1s or 250ms)")
    interval = reader.duration("interval")
    if not interval:
        raise reader.error("interval", "expected a duration above 0, such as 1s or 250ms")
    steps = _body(reader, place, with_delay=True)
    reader.finish(("interval", *STEP_KEYS, *_BROADCAST_OPTIONS))
    if not steps:
        raise place.source.error(key, "a timed push needs a step to run (broadcast or send)")
    return TimedPush(interval=interval, steps=steps, key=key, line=place.source.line_of(key))


def _step_list(value: Any, key: str, place: _Place) -> tuple[Step, ...]:
    """Steps given as a list of step mappings, or as one mapping."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return _body(KeyReader(value, key, place.source), place, with_delay=True, finish=True)
    steps: list[Step] = []
    for item_key, item in _items(value, key, place.source):
        reader = KeyReader(item, item_key, place.source, "a step such as {send: ...}")
        steps += _body(reader, place, with_delay=True, finish=True)
        if not any(reader.has(name) for name in STEP_KEYS):
            raise place.source.error(item_key, f"expected a step: one of {', '.join(STEP_KEYS)}")
    return tuple(steps)


def _body(
    reader: KeyReader, place: _Place, *, with_delay: bool, finish: bool = False
) -> tuple[Step, ...]:
    """The steps written as keys of one mapping, in their fixed order.

    ``delay``/``wait`` first, then ``set``, ``join``, ``leave``, the one
    message step, ``close``. ``do`` and ``expect`` stand alone.
    """
    present = [name for name in STEP_KEYS if reader.has(name)]
    if not with_delay:
        present = [name for name in present if name != "delay"]
    for name in present:
        if place.section == "every" and name in _NEEDS_CONNECTION:
            raise reader.error(
                name,
                f"'{name}' needs a connection, which a timed push does not have; "
                "use broadcast, or send (to each connection of the endpoint)",
            )
        if name == "expect" and place.section != "script":
            raise reader.error(name, "'expect' waits for a message: it belongs in a script")
        if name == "reply" and place.section == "on_connect":
            raise reader.error(name, "there is no message to reply to here: use 'send'")
    messages = [name for name in present if name in _MESSAGE_STEPS]
    if len(messages) > 1:
        first, second = messages[:2]
        raise reader.error(
            second,
            f"give one of '{first}' or '{second}' here, or list both under 'do:' "
            "to run them in order",
        )
    for alone in ("do", "expect"):
        others = [name for name in present if name != alone]
        if alone in present and others:
            raise reader.error(
                others[0],
                f"'{alone}' stands alone in its mapping; "
                f"put '{others[0]}' in a list item of its own",
            )
    for option in _BROADCAST_OPTIONS:
        if reader.has(option) and "broadcast" not in present:
            raise reader.error(option, f"'{option}' goes with 'broadcast'")
    steps: list[Step] = []
    for name in ("delay", "wait", "set", "join", "leave", *_MESSAGE_STEPS, "close", "expect", "do"):
        if name in present:
            steps += _step(name, reader, place)
    if finish:
        reader.finish((*STEP_KEYS, *_BROADCAST_OPTIONS))
    return tuple(steps)


def _step(name: str, reader: KeyReader, place: _Place) -> list[Step]:
    key = reader.path(name)
    value = reader.raw(name)
    source = place.source
    if name in ("delay", "wait"):
        duration = reader.duration_range(name)
        assert duration is not None
        return [Wait(duration, verb=name, key=key)]
    if name == "set":
        if not isinstance(value, Mapping):
            raise source.error(
                key, f"expected a mapping of state keys, got {describe_value(value)}"
            )
        return [SetState(place.template(value, key), key=key)]
    if name in ("join", "leave"):
        rooms = place.template(_room_names(value, key, source), key)
        return [Join(rooms, key=key) if name == "join" else Leave(rooms, key=key)]
    if name in ("send", "reply"):
        # In a timed push, send goes to each connection of the endpoint in turn.
        return [Send(place.template(value, key, per_connection=True), verb=name, key=key)]
    if name == "reply_file":
        return [Send(place.template(_json_file(value, key, place), key), verb=name, key=key)]
    if name == "broadcast":
        return [_broadcast(reader, place)]
    if name == "emit":
        return [parse_emit(value, key, place.source, place.template)]
    if name == "close":
        return [_close(value, key, place)]
    if name == "expect":
        return [_expect(value, key, place)]
    assert name == "do"
    return list(_step_list(value, key, place))


def _room_names(value: Any, key: str, source: SourceMap) -> Any:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise source.error(key, f"expected a room name or a list of them, got {describe_value(value)}")


def _json_file(value: Any, key: str, place: _Place) -> Any:
    if not isinstance(value, str) or not value:
        raise place.source.error(
            key, f"expected a path to a JSON file, got {describe_value(value)}"
        )
    path = (place.base_dir / value).resolve()
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise place.source.error(key, f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise place.source.error(key, f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise place.source.error(
            key, f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def _broadcast(reader: KeyReader, place: _Place) -> Broadcast:
    key = reader.path("broadcast")
    rooms = None
    if reader.has("rooms"):
        value = reader.raw("rooms")
        rooms_key = reader.path("rooms")
        names = _room_names(value, rooms_key, place.source)
        names = [names] if isinstance(names, str) else names
        rooms = tuple(
            place.template(name, f"{rooms_key}[{index}]") for index, name in enumerate(names)
        )
    if place.section == "every" and reader.has("include_self"):
        raise reader.error("include_self", "a timed push has no sender to include or leave out")
    include_self = reader.boolean("include_self", True)
    return Broadcast(
        place.template(reader.raw("broadcast"), key),
        rooms=rooms,
        include_self=include_self,
        key=key,
        event=event_name(reader.raw("event"), reader.path("event"), place.source),
    )


def _close(value: Any, key: str, place: _Place) -> Close:
    code: Any = 1000
    reason: Any = ""
    if isinstance(value, Mapping):
        reader = KeyReader(value, key, place.source)
        code = reader.raw("code", 1000)
        reason = reader.raw("reason", "")
        reader.finish(("code", "reason"))
        code_key = reader.path("code")
    elif value is True or isinstance(value, int):
        code, code_key = (1000 if value is True else value), key
    else:
        raise place.source.error(
            key, f"expected true, a close code or {{code, reason}}, got {describe_value(value)}"
        )
    # Whether the code may be sent is wire.close's rule, checked where the
    # endpoint is built (mockws.hooks.rules), which may import the wire floor.
    if isinstance(code, bool) or not isinstance(code, int):
        raise place.source.error(code_key, f"expected a close code, got {describe_value(code)}")
    if not isinstance(reason, str):
        raise place.source.error(
            f"{key}.reason", f"expected a string, got {describe_value(reason)}"
        )
    return Close(code, place.template(reason, f"{key}.reason"), key=key, code_key=code_key)


def _expect(value: Any, key: str, place: _Place) -> Expect:
    reader = KeyReader(value, key, place.source, "a mapping {match, timeout, else}")
    matcher = parse_matcher(reader.raw("match"), reader.path("match"), place.source)
    when = None
    if reader.has("when"):
        when = compile_condition(reader.raw("when"), reader.path("when"), place.source)
        place.check(when.template, reader.path("when"))
    timeout = reader.duration("timeout")
    if reader.has("else") and timeout is None:
        raise reader.error("else", "'else' runs when the timeout passes: give 'timeout' too")
    otherwise = _step_list(reader.raw("else"), reader.path("else"), place)
    reader.finish(("match", "when", "timeout", "else"))
    return Expect(matcher=matcher, when=when, timeout=timeout, otherwise=otherwise, key=key)
