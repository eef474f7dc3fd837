"""The validated, frozen shape of an AsyncAPI document, as the server uses it.

:mod:`mockws.config.asyncapi` builds these from an AsyncAPI 3.0 or 2.6
document; :mod:`mockws.hooks.validation` and :mod:`mockws.hooks.spec_mock`
serve and check traffic from them. Schemas stay in the document: a message
names its payload schema by absolute URI (``file:///.../api.yaml#/components/...``)
and the validators resolve it, ``$ref`` chains included, from
:attr:`SpecDocument.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "VALIDATE_MODES",
    "AsyncApiSettings",
    "ChannelBinding",
    "ChannelSpec",
    "MessageSpec",
    "OperationSpec",
    "ParameterSpec",
    "SpecDocument",
]

VALIDATE_MODES = ("warn", "reject")

ValidateMode = Literal["warn", "reject"]


@dataclass(frozen=True)
class SpecDocument:
    """One loaded AsyncAPI document and every file its ``$ref`` reach.

    Attributes:
        file: The document's file.
        version: Its ``asyncapi`` version string (``3.0.0``, ``2.6.0``).
        digest: A digest of every file's bytes: two loads compare equal
            exactly when no file changed.
        files: The document and every file it references.
        resources: The parsed content of each file, by ``file://`` URI.
        problems: Things that do not stop serving but that a user should
            know (``mockws check --asyncapi`` lists them).
    """

    file: Path
    version: str
    digest: str
    files: tuple[Path, ...] = ()
    resources: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    problems: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class MessageSpec:
    """One message of a channel.

    Attributes:
        name: The message's name (or its key in the document).
        where: Its place, ``api.yaml#/components/messages/chatMessage``.
        payload: Absolute URI of its payload schema; None when it has none
            or its schema format is not JSON Schema.
        default_dialect: The JSON Schema dialect (``$schema`` URI) the
            document declares for the payload; a ``$schema`` in the schema wins.
        examples: Example payloads, in document order.
        correlation: JSON pointer into the payload of the correlation id
            (from ``correlationId.location: $message.payload#/id``).
    """

    name: str
    where: str
    payload: str | None
    default_dialect: str
    examples: tuple[Any, ...] = ()
    correlation: str | None = None


@dataclass(frozen=True)
class OperationSpec:
    """One operation, from the application's side: the mock is the application.

    Attributes:
        name: The operation's id.
        action: ``send``: the mock pushes these messages; ``receive``: clients
            send them and the mock validates them (and answers ``reply``).
        messages: The messages of the operation.
        reply: What the mock answers to each received message, if anything.
        interval: Seconds between pushes (``x-mockws-interval``); None
            pushes once, on connect.
    """

    name: str
    action: Literal["send", "receive"]
    messages: tuple[MessageSpec, ...]
    reply: tuple[MessageSpec, ...] = ()
    interval: float | None = None


@dataclass(frozen=True)
class ParameterSpec:
    """A channel address parameter and the JSON schema its value must meet."""

    name: str
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ChannelSpec:
    """One WebSocket channel of the document: one mockws endpoint.

    Attributes:
        name: The channel's id (3.0) or address (2.6).
        address: The address as the document writes it.
        pattern: The mockws pattern: the server's pathname, then the address.
        where: Its place in the document, for messages.
        parameters: Address parameters with their schema.
        query: The ``ws`` binding's ``query`` schema, checked at the handshake.
        operations: The operations on the channel.
        document: The document the channel comes from.
    """

    name: str
    address: str
    pattern: str
    where: str
    document: SpecDocument
    parameters: tuple[ParameterSpec, ...] = ()
    query: Mapping[str, Any] | None = None
    operations: tuple[OperationSpec, ...] = ()

    def messages(self, action: Literal["send", "receive"]) -> tuple[MessageSpec, ...]:
        """Return the messages of this channel's operations with ``action``, each once."""
        found: dict[str, MessageSpec] = {}
        for operation in self.operations:
            if operation.action == action:
                for message in operation.messages:
                    found.setdefault(message.where, message)
        return tuple(found.values())

    @property
    def replies(self) -> tuple[MessageSpec, ...]:
        """The messages the mock sends as replies, each once."""
        found: dict[str, MessageSpec] = {}
        for operation in self.operations:
            for message in operation.reply:
                found.setdefault(message.where, message)
        return tuple(found.values())


@dataclass(frozen=True)
class AsyncApiSettings:
    """The top-level ``asyncapi:`` key.

    Attributes:
        file: The AsyncAPI document.
        validate: ``warn`` logs invalid incoming messages; ``reject`` also
            answers each with an error message and closes with 1007 past
            ``max_invalid``.
        max_invalid: Invalid messages a connection may send in ``reject``
            mode before the next one closes it.
    """

    file: Path
    validate: ValidateMode = "warn"
    max_invalid: int = 3


@dataclass(frozen=True)
class ChannelBinding:
    """An endpoint's tie to a channel of a document.

    Attributes:
        channel: The channel.
        validate: See :class:`AsyncApiSettings`.
        max_invalid: See :class:`AsyncApiSettings`.
        play: The mock pushes the channel's ``send`` messages and answers
            its ``reply`` operations: true for an endpoint made from the
            document, or a config endpoint that nothing else serves. False
            for an endpoint with a handler or rules, whose traffic is only
            validated.
        declared: The endpoint is written in the config
            (``asyncapi: {file, channel}``); False when the top-level
            document made it.
    """

    channel: ChannelSpec
    validate: ValidateMode = "warn"
    max_invalid: int = 3
    play: bool = True
    declared: bool = False
