"""The frozen shape of AsyncAPI channels (mockws/config/asyncapi_model.py)."""

from __future__ import annotations

from pathlib import Path

from mockws.config.asyncapi_model import ChannelSpec, MessageSpec, OperationSpec, SpecDocument

DOC = SpecDocument(file=Path("api.yaml"), version="3.0.0", digest="d")


def message(name: str) -> MessageSpec:
    return MessageSpec(name=name, where=f"api.yaml#/m/{name}", payload=None, default_dialect="")


def test_messages_and_replies_are_listed_once_by_action() -> None:
    a, b, ack = message("a"), message("b"), message("ack")
    channel = ChannelSpec(
        name="c",
        address="/c",
        pattern="/c",
        where="api.yaml#/channels/c",
        document=DOC,
        operations=(
            OperationSpec("push", "send", (a,)),
            OperationSpec("push-again", "send", (a, b)),
            OperationSpec("ask", "receive", (b,), reply=(ack,)),
            OperationSpec("ask-again", "receive", (b,), reply=(ack,)),
        ),
    )
    assert channel.messages("send") == (a, b)
    assert channel.messages("receive") == (b,)
    assert channel.replies == (ack,)


def test_documents_compare_by_digest_not_by_content() -> None:
    same = SpecDocument(file=Path("api.yaml"), version="3.0.0", digest="d", resources={"x": 1})
    assert same == DOC
    assert SpecDocument(file=Path("api.yaml"), version="3.0.0", digest="e") != DOC
