"""Checking messages and handshakes against a channel (mockws/hooks/validation.py)."""

from __future__ import annotations

from pathlib import Path

from mockws.config.asyncapi import load_spec
from mockws.hooks.validation import ChannelValidator, check_examples

from ..helpers import WriteFile

DOCS = Path(__file__).resolve().parent.parent / "asyncapi_docs"


def chat() -> ChannelValidator:
    return ChannelValidator(load_spec(DOCS / "chat.yaml").channels[0])


def test_a_valid_message_matches_its_message_through_refs_to_another_file() -> None:
    validator = chat()
    match = validator.match({"type": "say", "requestId": "1", "text": "hi"}, validator.incoming)
    assert match.ok and match.message is not None and match.message.name == "say"


def test_failures_name_keyword_path_and_value() -> None:
    validator = chat()
    match = validator.match(
        {"type": "say", "requestId": "1", "text": "x" * 300}, validator.incoming
    )
    assert not match.ok and match.closest is not None and match.closest.name == "say"
    (violation,) = match.violations
    assert (violation.keyword, violation.path) == ("maxLength", "/text")
    assert violation.value.startswith('"xxx') and violation.value.endswith("…")
    assert violation.describe().startswith("/text: ")


def test_text_is_parsed_and_binary_is_refused() -> None:
    validator = chat()
    assert validator.match('{"type": "say", "requestId": "1", "text": "hi"}', validator.incoming).ok
    binary = validator.match(b"\x00", validator.incoming)
    assert not binary.ok and binary.violations[0].keyword == "type"


def test_a_type_tag_mismatch_is_no_message_at_all() -> None:
    validator = chat()
    match = validator.match({"type": "shout", "requestId": "1", "text": "hi"}, validator.incoming)
    assert match.message is None and match.closest is None
    assert match.violations[0].keyword == "const"


def test_secret_values_are_masked_in_failures() -> None:
    validator = chat()
    match = validator.match({"type": "say", "password": "hunter2"}, validator.incoming)
    assert all("hunter2" not in v.value for v in match.violations)


def test_handshake_problems() -> None:
    validator = chat()
    assert validator.handshake({"room": "lobby"}, {"user": "ann"}) == []
    problems = validator.handshake({"room": "attic"}, {"user": "Ann"})
    assert problems[0].startswith("parameter room: 'attic' is not one of")
    assert problems[1].startswith("query/user: 'Ann' does not match")
    hidden = validator.handshake({}, {"user": "SECRET"}, frozenset({"user"}))
    assert hidden == ["query/user: fails 'pattern' [pattern]"]


def test_the_declared_dialect_is_used(write: WriteFile) -> None:
    """prefixItems is a 2020-12 keyword: draft 07 (the default) ignores it."""
    write(
        "api.yaml",
        """
        asyncapi: 3.0.0
        info: {title: t, version: '1'}
        channels:
          c:
            address: /c
            messages:
              new:
                payload:
                  schemaFormat: application/schema+json;version=2020-12
                  schema: {type: array, prefixItems: [{type: string}]}
              old:
                payload: {type: array, prefixItems: [{type: string}]}
        operations:
          a:
            action: receive
            channel: {$ref: '#/channels/c'}
            messages: [{$ref: '#/channels/c/messages/new'}]
          b:
            action: send
            channel: {$ref: '#/channels/c'}
            messages: [{$ref: '#/channels/c/messages/old'}]
        """,
    )
    validator = ChannelValidator(load_spec(write("x", "").parent / "api.yaml").channels[0])
    new = validator.incoming
    old = validator.channel.messages("send")
    assert not validator.match([5], new).ok
    assert validator.match([5], old).ok


def test_check_examples_reports_examples_that_break_their_schema(write: WriteFile) -> None:
    path = write(
        "api.yaml",
        """
        asyncapi: 2.6.0
        info: {title: t, version: '1'}
        channels:
          /c:
            subscribe:
              message:
                payload: {type: object, properties: {n: {type: integer}}}
                examples: [{payload: {n: 1}}, {payload: {n: one}}]
            publish:
              message:
                payload: {type: object, minProperties: -1}
        """,
    )
    problems = check_examples(load_spec(path).channels[0])
    assert len(problems) == 2
    assert (
        "examples/1: the example breaks its schema: /n: 'one' is not of type 'integer'"
        in problems[0]
    )
    assert "the payload schema is invalid" in problems[1]
    assert check_examples(load_spec(DOCS / "chat.yaml").channels[0]) == []


def test_a_recursive_schema_is_validated_too(write: WriteFile) -> None:
    """A schema that refers to itself cannot be inlined: its refs resolve as it validates."""
    path = write(
        "api.yaml",
        """
        asyncapi: 2.6.0
        info: {title: t, version: '1'}
        channels:
          /tree:
            publish:
              message:
                payload: {$ref: '#/components/schemas/Node'}
        components:
          schemas:
            Node:
              type: object
              properties:
                name: {type: string}
                children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        """,
    )
    validator = ChannelValidator(load_spec(path).channels[0])
    tree = {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}
    assert validator.match(tree, validator.incoming).ok
    broken = {"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}
    match = validator.match(broken, validator.incoming)
    assert match.violations[0].path == "/children/0/children/0/name"


def test_a_payload_ref_through_another_message_ref_is_followed(write: WriteFile) -> None:
    """#/components/messages/say/payload, where say is itself a $ref to another file."""
    write("m.yaml", "say:\n  payload: {type: object, required: [a]}\n")
    path = write(
        "api.yaml",
        """
        asyncapi: 2.6.0
        info: {title: t, version: '1'}
        channels:
          /c:
            publish:
              message:
                payload: {$ref: '#/components/messages/say/payload'}
        components:
          messages:
            say: {$ref: 'm.yaml#/say'}
        """,
    )
    channel = load_spec(path).channels[0]
    (message,) = channel.messages("receive")
    assert message.payload is not None and message.payload.endswith("m.yaml#/say/payload")
    validator = ChannelValidator(channel)
    assert validator.match({"a": 1}, validator.incoming).ok
    assert validator.match({}, validator.incoming).violations[0].keyword == "required"


def test_url_values_are_read_as_the_type_their_schema_asks_for(write: WriteFile) -> None:
    path = write(
        "api.yaml",
        """
        asyncapi: 2.6.0
        info: {title: t, version: '1'}
        channels:
          /page/{n}:
            parameters:
              n: {schema: {type: integer, minimum: 1}}
            bindings:
              ws:
                query:
                  type: object
                  properties:
                    size: {type: integer, maximum: 50}
                    live: {type: boolean}
                    q: {type: string}
            subscribe:
              message:
                payload: {type: object}
                examples: [{payload: {"$ref": "not a reference, an example"}}]
        """,
    )
    validator = ChannelValidator(load_spec(path).channels[0])
    assert validator.handshake({"n": "3"}, {"size": "20", "live": "true", "q": "7"}) == []
    problems = validator.handshake({"n": "0"}, {"size": "many", "live": "yes"})
    assert problems[0] == "parameter n: 0 is less than the minimum of 1 [minimum]"
    assert "query/size: 'many' is not of type 'integer' [type]" in problems
    assert "query/live: 'yes' is not of type 'boolean' [type]" in problems
