"""Loading declarative keys: the model and every load error (mockws/config/rules_load.py)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from mockws.config import load_config
from mockws.config.durations import DurationRange
from mockws.config.rules import (
    Broadcast,
    Close,
    Expect,
    Fields,
    Join,
    Regex,
    Send,
    SetState,
    Wait,
    describe_behaviour,
)
from mockws.errors import ConfigError
from mockws.server.endpoints import load_endpoints

from ..helpers import WriteFile

FULL = """
endpoints:
  - pattern: /ws/chat
    on_connect:
      - send: {type: welcome, id: "{{ conn.id }}"}
      - join: lobby
    rules:
      - match: {type: ping}
        reply: {type: pong, at: "{{ now }}"}
      - match: {type: chat, user: {name: {regex: "^a"}}}
        when: "{{ data.text | length < 500 }}"
        broadcast: {type: chat, text: "{{ data.text }}"}
        rooms: ["{{ data.room }}"]
        include_self: false
      - match: {text: "^hello\\\\b"}
        reply: world
        delay: [100ms, 400ms]
      - match: {type: subscribe}
        join: "{{ data.channel }}"
        set: {subscribed: "{{ data.channel }}"}
        reply: {type: subscribed}
      - match: {type: logout}
        close: {code: 4000, reason: bye}
    every:
      - interval: 1s
        broadcast: {type: tick, n: "{{ seq }}"}
        rooms: [prices]
    script:
      - send: {type: hello}
      - expect: {match: {type: ready}, timeout: 5s, else: {close: {code: 4008}}}
      - wait: 500ms
"""


def load(write: WriteFile, body: str) -> str:
    path = write("dev.yaml", body)
    with pytest.raises(ConfigError) as caught:
        load_endpoints(load_config(path))
    return str(caught.value)


def test_the_api_example_loads_into_the_model(write: WriteFile) -> None:
    """Section 11's keys become the frozen model, without a handler."""
    config = load_config(write("dev.yaml", FULL))
    [endpoint] = config.endpoints
    behaviour = endpoint.behaviour
    assert endpoint.handler is None and behaviour is not None
    assert [type(s) for s in behaviour.on_connect] == [Send, Join]
    ping, chat, hello, subscribe, logout = behaviour.rules
    assert ping.line == 7 and ping.key == "endpoints[0].rules[0]"
    assert isinstance(chat.matcher.fields, Fields)
    assert isinstance(dict(chat.matcher.fields.items)["user"], Fields)
    [broadcast] = chat.steps
    assert isinstance(broadcast, Broadcast) and broadcast.include_self is False
    assert broadcast.rooms is not None and broadcast.rooms[0].value == "{{ data.room }}"
    assert hello.matcher.text is not None and hello.delay == DurationRange(0.1, 0.4)
    assert [type(s) for s in subscribe.steps] == [SetState, Join, Send]
    assert isinstance(logout.steps[0], Close) and logout.steps[0].code == 4000
    [tick] = behaviour.every
    assert tick.interval == 1.0
    send, expect, wait = behaviour.script
    assert isinstance(expect, Expect) and expect.timeout == 5.0
    assert isinstance(expect.otherwise[0], Close) and expect.otherwise[0].code == 4008
    assert isinstance(wait, Wait) and wait.duration == DurationRange(0.5, 0.5)


def test_an_unchanged_rule_is_equal_wherever_it_is_written(write: WriteFile) -> None:
    """Equality ignores lines and keys, so a reload that only moves a rule keeps its seq/timer."""
    first = load_config(write("a.yaml", FULL)).endpoints[0].behaviour
    moved = FULL.replace(
        "    rules:\n", "    rules:\n      - match: {type: new}\n        reply: 1\n"
    )
    second = load_config(write("b.yaml", moved)).endpoints[0].behaviour
    assert first is not None and second is not None
    assert first.rules[0] == second.rules[1] and first.rules[0].line != second.rules[1].line
    assert first.every == second.every


def test_regex_values_compile(write: WriteFile) -> None:
    """{regex: ...} compiles once at load."""
    config = load_config(write("dev.yaml", FULL))
    behaviour = config.endpoints[0].behaviour
    assert behaviour is not None
    user = dict(behaviour.rules[1].matcher.fields.items)["user"]  # type: ignore[union-attr]
    assert isinstance(user, Fields) and isinstance(user.items[0][1], Regex)


def rule_config(rule: str) -> str:
    return (
        "endpoints:\n  - pattern: /a\n    rules:\n"
        + textwrap.indent(textwrap.dedent(rule).strip("\n"), "      ")
        + "\n"
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            "- match: {type: a}\n  replay: x\n",
            "dev.yaml:5: endpoints[0].rules[0].replay: unknown key (did you mean 'reply'?)",
        ),
        (
            "- match: {type: a}\n  reply: x\n  broadcast: y\n",
            "dev.yaml:6: endpoints[0].rules[0].broadcast: give one of 'reply' or 'broadcast' here, "
            "or list both under 'do:'",
        ),
        (
            "- match: {type: a}\n  reply: |\n    line one\n    {{ data.x | }}\n",
            "dev.yaml:5: endpoints[0].rules[0].reply: template syntax error on line 2 of the "
            "template",
        ),
        (
            "- match: {name: {regex: '(unclosed'}}\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match.name.regex: bad regular expression: "
            "missing ), unterminated subpattern",
        ),
        (
            "- match: {text: '[a-'}\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match.text: bad regular expression",
        ),
        (
            "- match: {jsonpath: '$.items[?(@.qty >'}\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match.jsonpath: bad JSONPath",
        ),
        (
            "- match: {type: a}\n  delay: 5 sec\n  reply: x\n",
            "dev.yaml:5: endpoints[0].rules[0].delay: expected a duration like 250ms, 2s, 1m "
            "or a number of seconds, got '5 sec'",
        ),
        (
            "- match: {type: a}\n  delay: [400ms, 100ms]\n  reply: x\n",
            "dev.yaml:5: endpoints[0].rules[0].delay: the range's low end",
        ),
        (
            "- match: {type: a}\n  reply: '{{ dta.x }}'\n",
            "dev.yaml:5: endpoints[0].rules[0].reply: template name 'dta' does not exist here "
            "(did you mean 'data'?)",
        ),
        (
            "- match: {type: a}\n  when: 'a {{ b }}'\n  reply: x\n",
            "dev.yaml:5: endpoints[0].rules[0].when: expected one expression",
        ),
        (
            "- match: {type: a}\n",
            "dev.yaml:4: endpoints[0].rules[0]: a rule needs a step to run",
        ),
        (
            "- match: {type: a}\n  rooms: [x]\n  reply: y\n",
            "dev.yaml:5: endpoints[0].rules[0].rooms: 'rooms' goes with 'broadcast'",
        ),
        (
            "- match: {type: a}\n  do: [{reply: x}]\n  join: r\n",
            "dev.yaml:6: endpoints[0].rules[0].join: 'do' stands alone in its mapping",
        ),
        (
            "- match: {type: a}\n  do:\n    - reply: x\n      send: y\n",
            "dev.yaml:6: endpoints[0].rules[0].do[0].reply: give one of 'send' or 'reply' here",
        ),
        (
            "- match: {type: a}\n  do:\n    - {sned: x}\n",
            "dev.yaml:6: endpoints[0].rules[0].do[0].sned: unknown key (did you mean 'send'?)",
        ),
        (
            "- match: {type: a}\n  expect: {match: {type: b}}\n",
            "dev.yaml:5: endpoints[0].rules[0].expect: 'expect' waits for a message: "
            "it belongs in a script",
        ),
        (
            "- match: {type: a}\n  close: {code: 1005}\n",
            "dev.yaml:5: endpoints[0].rules[0].close.code: 1005 is not a close code that may be "
            "sent",
        ),
        (
            "- match: {type: a}\n  close: {code: bye}\n",
            "dev.yaml:5: endpoints[0].rules[0].close.code: expected a close code, got 'bye'",
        ),
        (
            "- match: {text: '^a', jsonpath: '$.a'}\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match.text: 'text' matches messages that are "
            "not JSON",
        ),
        (
            "- match: ping\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match: expected a mapping such as {type: ping}",
        ),
        (
            "- match: {type: a}\n  reply_file: nowhere.json\n",
            "dev.yaml:5: endpoints[0].rules[0].reply_file: no such file",
        ),
        (
            "- match: {type: a}\n  set: [1]\n",
            "dev.yaml:5: endpoints[0].rules[0].set: expected a mapping of state keys, got a list",
        ),
        (
            "- match: {kind: {one_of: a}}\n  reply: x\n",
            "dev.yaml:4: endpoints[0].rules[0].match.kind.one_of: expected a list of values",
        ),
    ],
)
def test_rule_errors_name_file_line_and_key(write: WriteFile, rule: str, expected: str) -> None:
    """Every mistake in a rule is reported at load as file:line: key: message."""
    message = load(write, rule_config(rule))
    assert f"{os.sep}{expected}" in message or message.startswith(expected), message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "    every:\n      - broadcast: x\n",
            "dev.yaml:4: endpoints[0].every[0]: missing required key 'interval'",
        ),
        (
            "    every:\n      - interval: 0\n        broadcast: x\n",
            "dev.yaml:4: endpoints[0].every[0].interval: expected a duration above 0",
        ),
        (
            "    every:\n      - interval: 1s\n        reply: x\n",
            "dev.yaml:5: endpoints[0].every[0].reply: 'reply' needs a connection",
        ),
        (
            "    every:\n      - interval: 1s\n        broadcast: '{{ data }}'\n",
            "dev.yaml:5: endpoints[0].every[0].broadcast: template name 'data' does not exist here",
        ),
        (
            "    on_connect:\n      - reply: x\n",
            "dev.yaml:4: endpoints[0].on_connect[0].reply: there is no message to reply to here",
        ),
        (
            "    script:\n      - expect: {match: {type: a}, else: {close: true}}\n",
            "dev.yaml:4: endpoints[0].script[0].expect.else: 'else' runs when the timeout passes",
        ),
        (
            "    script:\n      - expect: {match: {type: a}, timeout: soon}\n",
            "dev.yaml:4: endpoints[0].script[0].expect.timeout: expected a duration",
        ),
        ("    script:\n      - {}\n", "dev.yaml:4: endpoints[0].script[0]: expected a step"),
        ("    rules: {match: x}\n", "dev.yaml:3: endpoints[0].rules: expected a list"),
    ],
)
def test_other_declarative_errors(write: WriteFile, body: str, expected: str) -> None:
    """every, on_connect and script mistakes are load errors too."""
    message = load(write, "endpoints:\n  - pattern: /a\n" + body)
    assert f"{os.sep}{expected}" in message, message


def test_describe_behaviour_lists_each_rule_with_its_line(write: WriteFile) -> None:
    """mockws check's lines: on_connect, each rule with file:line, every, script."""
    behaviour = load_config(write("dev.yaml", FULL)).endpoints[0].behaviour
    assert behaviour is not None
    lines = describe_behaviour(behaviour, "dev.yaml")
    assert lines[0] == "on_connect: send, join lobby"
    assert lines[1] == "rules (first match wins):"
    assert lines[2] == '  1. dev.yaml:7  {"type": "ping"} -> reply'
    assert (
        "when {{ data.text | length < 500 }} -> broadcast to {{ data.room }} (not to the sender)"
        in lines[3]
    )
    assert lines[4].endswith("-> reply after 0.1-0.4s")
    assert lines[-2] == "every 1s (dev.yaml:24): broadcast to prices"
    assert lines[-1] == 'script: send, expect {"type": "ready"} (timeout 5s), wait 0.5s'


def test_template_env_is_read_at_load_and_only_the_listed_names(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """template_env lists what env shows; the values are read when the config loads."""
    monkeypatch.setenv("MOCKWS_LISTED", "1")
    monkeypatch.setenv("MOCKWS_OTHER", "2")
    config = load_config(
        write("dev.yaml", "template_env: [MOCKWS_LISTED]\n" + rule_config("- reply: x\n"))
    )
    behaviour = config.endpoints[0].behaviour
    assert config.template_env == ("MOCKWS_LISTED",)
    assert behaviour is not None and behaviour.env == (("MOCKWS_LISTED", "1"),)


def test_paths_resolve_against_the_config_folder(write: WriteFile, project: Path) -> None:
    """reply_file is relative to the config file's folder, and read at load."""
    write("sub/fix.json", '{"a": 1}')
    config = load_config(write("sub/dev.yaml", rule_config("- reply_file: fix.json\n")))
    behaviour = config.endpoints[0].behaviour
    assert behaviour is not None
    [send] = behaviour.rules[0].steps
    assert isinstance(send, Send) and send.message.render({}) == {"a": 1}
