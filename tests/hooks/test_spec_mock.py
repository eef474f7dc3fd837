"""Pushing and answering a channel's messages (mockws/hooks/spec_mock.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mockws.config.asyncapi import load_spec
from mockws.hooks.spec_mock import SpecPlayer, example_from_schema
from mockws.hooks.validation import ChannelValidator

from ..helpers import WriteFile

DOCS = Path(__file__).resolve().parent.parent / "asyncapi_docs"


def resolver(schemas: dict[str, Any]) -> Any:
    import referencing
    from referencing.jsonschema import DRAFT7

    registry = referencing.Registry().with_resources(
        (uri, referencing.Resource(contents=schema, specification=DRAFT7))
        for uri, schema in schemas.items()
    )
    return registry.resolver()


def test_values_made_from_schemas() -> None:
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "minimum": 3},
            "name": {"type": "string", "minLength": 8},
            "at": {"type": "string", "format": "date-time"},
            "kind": {"enum": ["a", "b"]},
            "tag": {"const": "t"},
            "score": {"type": "number", "default": 1.5},
            "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
            "maybe": {"type": ["null", "string"]},
            "both": {
                "allOf": [{"properties": {"x": {"const": 1}}}, {"properties": {"y": {"const": 2}}}]
            },
        },
    }
    assert example_from_schema(schema, resolver({})) == {
        "id": 3,
        "name": "stringxx",
        "at": "2024-01-01T00:00:00Z",
        "kind": "a",
        "tag": "t",
        "score": 1.5,
        "flags": [True, True],
        "maybe": "string",
        "both": {"x": 1, "y": 2},
    }


def test_refs_are_followed_and_cycles_end() -> None:
    schemas = {"urn:a": {"type": "object", "properties": {"next": {"$ref": "urn:a"}}}}
    value = example_from_schema({"$ref": "urn:a"}, resolver(schemas))
    depth = 0
    while isinstance(value, dict):
        value, depth = value["next"], depth + 1
    assert 2 < depth < 20


def test_the_reply_carries_the_request_correlation_id() -> None:
    channel = load_spec(DOCS / "chat.yaml").channels[0]
    player = SpecPlayer(channel, ChannelValidator(channel))
    operation = next(op for op in channel.operations if op.reply)
    answer = player.answer(operation.messages[0], operation.reply[0], {"requestId": "abc"})
    assert answer == {"type": "said", "requestId": "abc", "ok": True, "id": 42}
    # The example itself is not changed by answering.
    assert operation.reply[0].examples[0]["requestId"] == "0"


def test_a_message_without_examples_is_made_from_its_schema(write: WriteFile) -> None:
    path = write(
        "api.yaml",
        """
        asyncapi: 3.0.0
        info: {title: t, version: '1'}
        channels:
          c:
            address: /c
            messages:
              m:
                payload: {$ref: '#/components/schemas/M'}
        operations:
          push: {action: send, channel: {$ref: '#/channels/c'}}
        components:
          schemas:
            M: {type: object, properties: {type: {const: m}, n: {type: integer}}}
        """,
    )
    channel = load_spec(path).channels[0]
    player = SpecPlayer(channel, ChannelValidator(channel))
    (message,) = channel.messages("send")
    assert player.samples(message) == ({"type": "m", "n": 0},)
