"""Loading AsyncAPI documents into channels and endpoints (mockws/config/asyncapi.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mockws.config.asyncapi import find_channel, load_spec, refresh_spec
from mockws.config.load import config_from_mapping, load_config
from mockws.errors import ConfigError

from ..helpers import WriteFile

DOCS = Path(__file__).resolve().parent.parent / "asyncapi_docs"

HEAD = """
asyncapi: 3.0.0
info: {title: t, version: '1'}
"""


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    return str(caught.value)


def test_a_3_0_document_with_refs_to_another_file() -> None:
    spec = load_spec(DOCS / "chat.yaml")
    assert spec.document.version == "3.0.0"
    assert [p.name for p in spec.document.files] == ["chat.yaml", "schemas.yaml"]
    (room,) = spec.channels
    assert (room.name, room.address, room.pattern) == ("room", "/chat/{room}", "/api/chat/{room}")
    assert room.parameters[0].schema == {"enum": ["lobby", "dev"]}
    assert room.query is not None and room.query["$ref"].endswith(
        "#/channels/room/bindings/ws/query"
    )
    greet, send = room.operations
    assert (greet.action, [m.name for m in greet.messages]) == ("send", ["welcome"])
    assert greet.messages[0].examples == ({"type": "welcome", "motd": "Be nice"},)
    assert (send.action, [m.name for m in send.messages]) == ("receive", ["say"])
    assert [m.name for m in send.reply] == ["said"]
    assert send.messages[0].correlation == "/requestId"
    # The operation's $ref to the channel's message and the channel's own are one message.
    assert send.messages[0].where == "chat.yaml#/components/messages/say"


def test_a_2_6_document_subscribe_is_pushed_and_publish_is_received() -> None:
    (ticker,) = load_spec(DOCS / "ticker.yaml").channels
    assert ticker.pattern == "/market/ticker/{symbol}"
    push, receive = ticker.operations
    assert (push.name, push.action, push.interval) == ("onTick", "send", 0.2)
    assert len(push.messages[0].examples) == 2
    assert (receive.action, [m.name for m in receive.messages]) == (
        "receive",
        ["subscribe", "unsubscribe"],
    )
    assert find_channel(load_spec(DOCS / "ticker.yaml"), "ticker/{symbol}") is not None


def test_json_documents_load_too(write: WriteFile) -> None:
    path = write(
        "api.json",
        '{"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"},\n'
        ' "channels": {"c": {"address": "/c"}}}',
    )
    assert load_spec(path).channels[0].pattern == "/c"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("asyncapi: 1.2.0\ninfo: {}\n", "api.yaml:1: #/asyncapi:", "'3.0.0' or '2.6.0'"),
        ("asyncapi: 3.0.0\nchannels: [\n", "api.yaml:3:", "invalid YAML"),
        (
            HEAD
            + "channels:\n  c:\n    address: /c\n    messages:\n      m: {$ref: 'gone.yaml#/m'}\n",
            "api.yaml:7: #/channels/c/messages/m/$ref:",
            "cannot read the file this $ref names",
        ),
        (
            HEAD
            + "channels:\n  c:\n    address: /c\n    messages:\n"
            + "      m: {$ref: '#/components/x'}\n",
            "api.yaml:7: #/channels/c/messages/m/$ref:",
            "'#/components/x'",
        ),
        (
            HEAD + "channels:\n  c: {address: /c}\noperations:\n  o:\n    action: publish\n"
            "    channel: {$ref: '#/channels/c'}\n",
            "api.yaml:7: #/operations/o/action:",
            "expected 'send' or 'receive'",
        ),
        (
            HEAD + "channels:\n  c: {address: /c, x-mockws-interval: soon}\n",
            "api.yaml:4: #/channels/c/x-mockws-interval:",
            "duration",
        ),
        (
            HEAD + "servers:\n  s: {host: h, protocol: mqtt}\nchannels:\n  c: {address: /c}\n",
            "api.yaml:3: #/servers:",
            "no server has protocol ws or wss",
        ),
        (
            HEAD + "channels:\n  c: {$ref: '#/channels/d'}\n  d: {$ref: '#/channels/c'}\n",
            "api.yaml:4: #/channels/c/$ref:",
            "circular",
        ),
        (
            HEAD + "channels:\n  c: {address: '/c/{'}\n",
            "api.yaml:4: #/channels/c/address:",
            "",
        ),
    ],
)
def test_a_broken_document_names_file_line_and_pointer(
    write: WriteFile, text: str, where: str, words: str
) -> None:
    message = error_of(write("api.yaml", text))
    assert f"/{where}" in message, message
    assert words in message


def test_a_broken_ref_in_a_referenced_file_names_that_file(write: WriteFile) -> None:
    write("schemas.yaml", "A:\n  type: object\n  properties:\n    b: {$ref: '#/B'}\n")
    path = write(
        "api.yaml",
        HEAD + "channels:\n  c:\n    address: /c\n    messages:\n"
        "      m:\n        payload: {$ref: 'schemas.yaml#/A'}\n",
    )
    message = error_of(path)
    assert "/schemas.yaml:4: #/A/properties/b/$ref:" in message, message


def test_problems_are_collected_not_raised(write: WriteFile) -> None:
    spec = load_spec(
        write(
            "api.yaml",
            HEAD + "channels:\n  nowhere: {}\n  c:\n    address: /c\n    messages:\n"
            "      m:\n        schemaFormat: application/vnd.apache.avro;version=1.9.0\n"
            "        payload: {type: record}\n"
            "        correlationId: {location: '$message.header#/id'}\n",
        )
    )
    problems = "\n".join(spec.document.problems)
    assert "channel 'nowhere' has no address: not served" in problems
    assert "is not JSON Schema" in problems
    assert "only $message.payload" in problems
    assert spec.channels[0].operations == ()


def test_missing_libraries_name_the_extra(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "referencing", None)
    message = error_of(write("api.yaml", HEAD))
    assert "pip install 'mockws[asyncapi]'" in message and "'referencing'" in message


def test_config_keys(write: WriteFile) -> None:
    folder = write("api.yaml", HEAD + "channels:\n  room: {address: /room}\n").parent
    config = config_from_mapping(
        {"asyncapi": {"file": "api.yaml", "validate": "reject", "max_invalid": 5}},
        base_dir=folder,
    )
    assert config.asyncapi is not None and config.asyncapi.validate == "reject"
    (endpoint,) = config.endpoints
    assert endpoint.handler is None and endpoint.asyncapi is not None
    assert (endpoint.asyncapi.max_invalid, endpoint.asyncapi.play) == (5, True)
    assert config.spec_files == (folder.resolve() / "api.yaml",)

    write("bad.yaml", "asyncapi: {file: api.yaml, validate: loud}\n")
    with pytest.raises(
        ConfigError, match=r"bad.yaml:1: asyncapi.validate: expected warn or reject"
    ):
        load_config(folder / "bad.yaml")
    write("typo.yaml", "asyncapi: {file: api.yaml, max_invalit: 2}\n")
    with pytest.raises(ConfigError, match="did you mean 'max_invalid'"):
        load_config(folder / "typo.yaml")
    write("missing.yaml", "asyncapi: nope.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml:1: asyncapi: no such AsyncAPI document"):
        load_config(folder / "missing.yaml")


def test_an_endpoint_binds_a_channel_and_takes_its_pattern(write: WriteFile) -> None:
    folder = write("api.yaml", HEAD + "channels:\n  room: {address: /room}\n").parent
    write("h.py", "")
    config = config_from_mapping(
        {
            "asyncapi": "api.yaml",
            "endpoints": [{"pattern": "/room", "handler": "h.py", "asyncapi": {"channel": "room"}}],
        },
        base_dir=folder,
    )
    # The hand-written endpoint serves /room: no generated endpoint beside it.
    (endpoint,) = config.endpoints
    assert endpoint.handler == "h.py" and endpoint.asyncapi is not None
    assert (endpoint.asyncapi.play, endpoint.asyncapi.declared) == (False, True)

    write("c.yaml", "endpoints:\n  - pattern: /x\n    asyncapi: {file: api.yaml, channel: rom}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(folder / "c.yaml")
    assert "c.yaml:3: endpoints[0].asyncapi.channel:" in str(caught.value)
    assert "did you mean 'room'" in str(caught.value)


def test_refresh_spec_reads_the_documents_again(write: WriteFile) -> None:
    path = write("api.yaml", HEAD + "channels:\n  room: {address: /room}\n")
    config = config_from_mapping({"asyncapi": "api.yaml"}, base_dir=path.parent)
    path.write_text(path.read_text() + "  more: {address: /more}\n")
    fresh = refresh_spec(config)
    assert [e.pattern for e in fresh.endpoints] == ["/room", "/more"]
    assert fresh.endpoints[0].asyncapi is not None
    assert (
        fresh.endpoints[0].asyncapi.channel.document
        != config.endpoints[0].asyncapi.channel.document
    )
