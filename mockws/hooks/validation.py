"""Check traffic against an AsyncAPI channel: handshakes, messages in and out.

:class:`ChannelValidator` compiles a channel's schemas once per endpoint
(``jsonschema``, the dialect the document declares, ``$ref`` resolved from
the document's files with ``referencing``). :func:`validation_stage` is the
pipeline stage placed before the handler: in ``warn`` mode an invalid
message is logged, shown in the inspector and passed on; in ``reject`` mode
it is answered with an error message and, past ``max_invalid``, the
connection closes with 1007. An invalid outgoing message is a warning.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config.asyncapi import import_optional
from ..config.asyncapi_model import ChannelBinding, ChannelSpec, MessageSpec
from ..errors import ConfigError
from ..hub.connection import Connection
from ..observe.events import SpecViolation
from ..observe.redact import mask_json_secrets
from ..wire.close import CloseCode
from ..wire.frames import Opcode
from .pipeline import Stage

__all__ = [
    "ChannelValidator",
    "Match",
    "Violation",
    "check_examples",
    "outgoing_check",
    "validation_stage",
]

log = logging.getLogger("mockws.asyncapi")

_MAX_VIOLATIONS = 5
_VALUE_CHARS = 80
# What reject mode answers an invalid message with: a message of its own, so
# that the check of outgoing messages knows it.
ERROR_SCHEMA_URI = "urn:mockws:asyncapi:error"
_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {"const": "invalid message"},
        "channel": {"type": "string"},
        "problems": {"type": "array"},
    },
    "required": ["error", "problems"],
}
_ERROR_MESSAGE = MessageSpec(
    name="mockws error", where=ERROR_SCHEMA_URI, payload=ERROR_SCHEMA_URI, default_dialect=""
)


@dataclass(frozen=True)
class Violation:
    """One failed JSON Schema keyword.

    Attributes:
        keyword: The keyword that failed (``type``, ``required``, ``enum``...).
        path: JSON pointer into the message (``/text``), ``""`` for the whole.
        value: The failing value, shortened, secrets masked.
        message: jsonschema's description of the failure.
    """

    keyword: str
    path: str
    value: str
    message: str

    def describe(self) -> str:
        """One line: ``/text: 5 is not of type 'string' [type]``."""
        return f"{self.path or '/'}: {self.message} [{self.keyword}]"

    def as_dict(self) -> dict[str, str]:
        """The JSON form sent to clients and the inspector."""
        return {"keyword": self.keyword, "path": self.path, "value": self.value}


@dataclass(frozen=True)
class Match:
    """What a message was checked against: the message it is, or why it is none.

    Attributes:
        message: The spec message the data is, None when it matches none.
        violations: The failures against the closest message; empty when valid.
        closest: The message the data is nearest to when it is none of them,
            unless it fails that message's ``const`` (a type tag): then it is
            no message at all, and None.
    """

    message: MessageSpec | None
    violations: tuple[Violation, ...] = ()
    closest: MessageSpec | None = None

    @property
    def ok(self) -> bool:
        """True when the data is one of the messages."""
        return self.message is not None and not self.violations


def _shorten(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    text = mask_json_secrets(text)
    return text if len(text) <= _VALUE_CHARS else text[: _VALUE_CHARS - 1] + "…"


def _pointer(parts: Iterable[object]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class ChannelValidator:
    """The compiled schemas of one channel, and the checks made with them."""

    def __init__(self, channel: ChannelSpec) -> None:
        self.channel = channel
        file = channel.document.file
        self._jsonschema = import_optional("jsonschema", file)
        referencing = import_optional("referencing", file)
        from referencing.jsonschema import DRAFT7

        resources = {**channel.document.resources, ERROR_SCHEMA_URI: _ERROR_SCHEMA}
        self.registry: Any = referencing.Registry().with_resources(
            (uri, referencing.Resource(contents=data, specification=DRAFT7))
            for uri, data in resources.items()
        )
        self._validators: dict[str, Any] = {}
        self.incoming = channel.messages("receive")
        self.outgoing = channel.messages("send") + channel.replies + (_ERROR_MESSAGE,)
        self._parameters = [
            (parameter.name, self._compile(parameter.schema))
            for parameter in channel.parameters
            if parameter.schema is not None
        ]
        self._query = self._compile(channel.query) if channel.query is not None else None
        # Compile now: a schema that cannot be compiled fails the load, not a message.
        for message in (*self.incoming, *self.outgoing):
            try:
                self.validator(message)
            except referencing.exceptions.Unresolvable as exc:
                raise ConfigError(
                    f"message {message.name!r} ({message.where}): its payload schema has a "
                    f"$ref that JSON Schema cannot follow: {exc}",
                    file=file,
                ) from None

    # -- compiling

    def resolver(self) -> Any:
        """A ``referencing`` resolver over the document's files."""
        return self.registry.resolver()

    def resolve(self, uri: str) -> Any:
        """Return the schema at ``uri`` (``file:///...#/pointer``)."""
        return self.registry.resolver().lookup(uri).contents

    def _inline(self, schema: Any, resolver: Any, stack: tuple[int, ...]) -> Any:
        """``schema`` with every ``$ref`` replaced by its target, each against its own file.

        A validator then resolves nothing per message (resolving refs was most
        of a check's time). Raises _Recursive for a schema that refers to itself.
        """
        if isinstance(schema, list):
            return [self._inline(item, resolver, stack) for item in schema]
        if not isinstance(schema, dict):
            return schema
        result: dict[str, Any] = {
            key: value if key in _NOT_SCHEMAS else self._inline(value, resolver, stack)
            for key, value in schema.items()
            if key != "$ref"
        }
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return result
        resolved = resolver.lookup(ref)
        marker = id(resolved.contents)
        if marker in stack:
            raise _Recursive
        target = self._inline(resolved.contents, resolved.resolver, (*stack, marker))
        if not result:
            return target
        # Keywords beside $ref apply too (2019-09 on; draft 07 documents do it as well).
        return {"allOf": [target, result]}

    def _compile(self, schema: Mapping[str, Any], default_dialect: str | None = None) -> Any:
        target = schema
        if set(schema) == {"$ref"}:
            target = self.resolve(schema["$ref"])
        validators = self._jsonschema.validators
        default = (
            validators.validator_for({"$schema": default_dialect})
            if default_dialect
            else self._jsonschema.Draft7Validator
        )
        cls = (
            validators.validator_for(target, default=default)
            if isinstance(target, dict)
            else default
        )
        try:
            return cls(self._inline(dict(schema), self.resolver(), ()))
        except _Recursive:
            return cls(dict(schema), registry=self.registry)

    def schema_problem(self, compiled: Any, uri: str) -> str | None:
        """Return why the schema at ``uri`` breaks its dialect's metaschema, or None."""
        try:
            type(compiled).check_schema(self.resolve(uri))
        except self._jsonschema.exceptions.SchemaError as exc:
            return str(exc.message)
        return None

    def validator(self, message: MessageSpec) -> Any | None:
        """The compiled validator of ``message``'s payload, None when it has no schema."""
        if message.payload is None:
            return None
        found = self._validators.get(message.payload)
        if found is None:
            found = self._compile({"$ref": message.payload}, message.default_dialect)
            self._validators[message.payload] = found
        return found

    # -- checks

    def violations(self, validator: Any, data: Any) -> tuple[Violation, ...]:
        """Check ``data`` with ``validator``; the most relevant failures first."""
        errors = sorted(validator.iter_errors(data), key=self._jsonschema.exceptions.relevance)
        return tuple(
            Violation(
                keyword=str(error.validator),
                path=_pointer(error.absolute_path),
                value=_shorten(error.instance),
                message=error.message,
            )
            for error in errors[:_MAX_VIOLATIONS]
        )

    def match(self, data: Any, messages: Sequence[MessageSpec]) -> Match:
        """Tell which of ``messages`` ``data`` is, or how it fails the closest one.

        Text that is JSON is parsed first (an endpoint with ``parse_json: false``
        hands its messages on as text).
        """
        if isinstance(data, (bytes, bytearray)):
            return Match(
                None,
                (Violation("type", "", "binary", "a binary message: the spec describes JSON"),),
            )
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                pass
        if not messages:
            return Match(
                None, (Violation("messages", "", _shorten(data), "this channel takes no message"),)
            )
        compiled = []
        for message in messages:
            validator = self.validator(message)
            # is_valid stops at the first failure: the whole list only when none matches.
            if validator is None or validator.is_valid(data):
                return Match(message)
            compiled.append((message, validator))
        best: tuple[Violation, ...] | None = None
        closest: MessageSpec | None = None
        for message, validator in compiled:
            found = self.violations(validator, data)
            if best is None or _distance(found) < _distance(best):
                best, closest = found, message
        if best is not None and _distance(best)[0]:
            closest = None
        return Match(None, best or (), closest)

    def handshake(
        self,
        params: Mapping[str, str],
        query: Mapping[str, str],
        secret: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Return why an upgrade breaks the channel's parameters or query schema.

        Values of the ``secret`` query parameters (a token) are never quoted.
        """
        problems = []
        for name, validator in self._parameters:
            if name in params:
                value = _coerce(params[name], validator.schema)
                problems += [
                    f"parameter {name}: {v.message} [{v.keyword}]"
                    for v in self.violations(validator, value)
                ]
        if self._query is not None:
            properties = self._query.schema.get("properties")
            if not isinstance(properties, dict):
                properties = {}
            values = {key: _coerce(query[key], properties.get(key)) for key in query}
            for v in self.violations(self._query, values):
                head = v.path.split("/")[1] if v.path else None
                message = f"fails '{v.keyword}'" if head in secret else v.message
                problems.append(f"query{v.path}: {message} [{v.keyword}]")
        return problems


def _coerce(text: str, schema: Any) -> Any:
    """Read a URL value as the type its schema asks for (``"2"`` for an integer is 2).

    A value that does not read as that type stays text, so that the check
    reports it (``'two' is not of type 'integer'``).
    """
    kind = schema.get("type") if isinstance(schema, dict) else None
    kinds = set(kind) if isinstance(kind, list) else {kind}
    if "string" in kinds or not kinds & {"integer", "number", "boolean"}:
        return text
    if "boolean" in kinds and text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    if "number" in kinds:
        try:
            return float(text)
        except ValueError:
            pass
    return text


class _Recursive(Exception):
    """A schema refers to itself: it is validated with its refs resolved as it goes."""


# Keywords whose values are data, not schemas: their "$ref" keys are not references.
_NOT_SCHEMAS = frozenset({"const", "enum", "default", "examples", "example"})


def _distance(violations: Sequence[Violation]) -> tuple[bool, int, int]:
    """How far data is from a message: a failed ``const`` (a type tag) means another message."""
    depth = max((v.path.count("/") for v in violations), default=0)
    return (any(v.keyword == "const" for v in violations), len(violations), -depth)


def _announce(conn: Connection, direction: str, match: Match, mode: str, where: str) -> None:
    problems = "; ".join(v.describe() for v in match.violations)
    log.warning(
        "%s %s: %s message breaks the AsyncAPI spec (%s): %s",
        conn.id,
        conn.endpoint,
        direction,
        where,
        problems,
    )
    events = conn.hub.events
    if events.active:
        events.publish(
            SpecViolation(
                conn_id=conn.id,
                endpoint=conn.endpoint,
                direction=direction,
                mode=mode,
                channel=where,
                problems=tuple(v.as_dict() | {"message": v.message} for v in match.violations),
            )
        )


def validation_stage(
    binding: ChannelBinding, validator: ChannelValidator, invalid: dict[str, int]
) -> Stage:
    """Return the stage that checks each incoming message against the channel.

    Args:
        binding: The endpoint's channel and mode.
        validator: The channel's compiled schemas.
        invalid: Invalid messages so far, by connection id (the caller drops
            a connection's entry when it closes).
    """
    channel = binding.channel
    reject = binding.validate == "reject"
    limit = binding.max_invalid

    async def validate(conn: Connection, data: Any) -> bool:
        match = validator.match(data, validator.incoming)
        if match.ok:
            return False
        _announce(conn, "incoming", match, binding.validate, channel.where)
        if not reject:
            return False
        count = invalid.get(conn.id, 0) + 1
        invalid[conn.id] = count
        await conn.send(
            {
                "error": "invalid message",
                "channel": channel.name,
                "problems": [v.as_dict() | {"message": v.message} for v in match.violations],
            }
        )
        if count > limit:
            await conn.close(
                CloseCode.INVALID_DATA,
                f"Invalid message: {count} broke the AsyncAPI spec (max_invalid {limit})",
            )
        return True

    return validate


def outgoing_check(validator: ChannelValidator) -> Any:
    """Return the check of every message a connection sends: a warning when it breaks the spec."""
    messages = validator.outgoing
    where = validator.channel.where
    # A broadcast queues one payload object for every recipient: check it once.
    last: list[Any] = [None, None]

    def check(conn: Connection, opcode: int, payload: bytes) -> None:
        if payload is last[0]:
            match = last[1]
            if not match.ok:
                _announce(conn, "outgoing", match, "warn", where)
            return
        data: Any = payload
        if opcode == Opcode.TEXT:
            try:
                data = json.loads(payload)
            except ValueError:
                data = payload.decode("utf-8", "replace")
        match = validator.match(data, messages)
        last[0], last[1] = payload, match
        if not match.ok:
            _announce(conn, "outgoing", match, "warn", where)

    return check


def check_examples(channel: ChannelSpec) -> list[str]:
    """Return one line per example that breaks its message's schema, and per invalid schema."""
    validator = ChannelValidator(channel)
    problems = []
    seen: set[str] = set()
    for operation in channel.operations:
        for message in operation.messages + operation.reply:
            if message.where in seen:
                continue
            seen.add(message.where)
            compiled = validator.validator(message)
            if compiled is None:
                continue
            schema_problem = validator.schema_problem(compiled, message.payload or "")
            if schema_problem is not None:
                problems.append(f"{message.where}: the payload schema is invalid: {schema_problem}")
                continue
            for index, example in enumerate(message.examples):
                found = validator.violations(compiled, example)
                if found:
                    problems.append(
                        f"{message.where}/examples/{index}: the example breaks its schema: "
                        + "; ".join(v.describe() for v in found)
                    )
    return problems
