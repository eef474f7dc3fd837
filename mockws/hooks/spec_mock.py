"""Play the application of an AsyncAPI channel: push its messages, answer its requests.

For an endpoint generated from a document: on connect, the first example of
each message of every ``send`` operation without an interval is pushed;
an operation with ``x-mockws-interval`` pushes its examples in turn, one
every interval, for as long as the connection is open. A received message
of an operation with a ``reply`` is answered on the same socket with the
reply message's example, its correlation id copied from the request. A
message without examples gets a payload made from its schema
(:func:`example_from_schema`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..config.asyncapi_model import ChannelBinding, ChannelSpec, MessageSpec, OperationSpec
from ..hub.connection import Connection
from .pipeline import Stage
from .validation import ChannelValidator, outgoing_check, validation_stage

__all__ = ["SpecPlayer", "SpecRuntime", "example_from_schema"]

log = logging.getLogger("mockws.asyncapi")

_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
}


def example_from_schema(schema: Any, resolver: Any, depth: int = 0) -> Any:
    """Make a value that fits ``schema``: its const, default, example, enum, else one by type.

    Args:
        schema: A JSON schema.
        resolver: A ``referencing`` resolver for its ``$ref`` (relative ones
            against the file they are written in).
    """
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if isinstance(schema.get("$ref"), str):
        try:
            resolved = resolver.lookup(schema["$ref"])
        except Exception:  # noqa: BLE001 - an unresolvable ref makes no value, not an error
            return None
        return example_from_schema(resolved.contents, resolved.resolver, depth + 1)
    for key in ("const", "default"):
        if key in schema:
            return copy.deepcopy(schema[key])
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return copy.deepcopy(schema["examples"][0])
    if "example" in schema:
        return copy.deepcopy(schema["example"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return copy.deepcopy(schema["enum"][0])
    for key in ("allOf", "oneOf", "anyOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            if key == "allOf":
                merged: dict[str, Any] = {}
                for part in schema[key]:
                    value = example_from_schema(part, resolver, depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_from_schema(schema[key][0], resolver, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), kind[0] if kind else None)
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: example_from_schema(sub, resolver, depth + 1) for name, sub in properties.items()
        }
    if kind == "array":
        count = max(int(schema.get("minItems", 1) or 0), 0)
        return [example_from_schema(schema.get("items"), resolver, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _FORMATS.get(str(schema.get("format")), "string")
        length = int(schema.get("minLength", 0) or 0)
        return text if len(text) >= length else text + "x" * (length - len(text))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = low if isinstance(low, (int, float)) and not isinstance(low, bool) else 0
        if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], (int, float)):
            value += 1
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return True
    return None


def _get(data: Any, pointer: str) -> Any:
    for token in pointer.lstrip("/").split("/") if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(data, dict):
            data = data.get(token)
        elif isinstance(data, list) and token.isdigit() and int(token) < len(data):
            data = data[int(token)]
        else:
            return None
    return data


def _set(data: Any, pointer: str, value: Any) -> None:
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.lstrip("/").split("/")]
    for token in tokens[:-1]:
        if not isinstance(data, dict):
            return
        data = data.setdefault(token, {})
    if isinstance(data, dict) and tokens and tokens[-1]:
        data[tokens[-1]] = value


class SpecPlayer:
    """What one generated endpoint pushes and answers.

    Args:
        channel: The channel the endpoint serves.
        validator: Its compiled schemas (for matching requests and resolving refs).
    """

    def __init__(self, channel: ChannelSpec, validator: ChannelValidator) -> None:
        self.channel = channel
        self.validator = validator
        self._samples: dict[str, tuple[Any, ...]] = {}
        self._requests = [op for op in channel.operations if op.action == "receive" and op.reply]

    @property
    def answers(self) -> bool:
        """True when the channel has request/reply operations to answer."""
        return bool(self._requests)

    def samples(self, message: MessageSpec) -> tuple[Any, ...]:
        """The message's examples, or one payload made from its schema."""
        found = self._samples.get(message.where)
        if found is None:
            if message.examples:
                found = message.examples
            elif message.payload is not None:
                found = (example_from_schema({"$ref": message.payload}, self.validator.resolver()),)
            else:
                found = (None,)
            self._samples[message.where] = found
        return found

    async def push(self, conn: Connection, message: MessageSpec, sample: Any) -> None:
        """Send one sample; a send on a closing connection does nothing."""
        await conn.send(copy.deepcopy(sample))

    async def open(self, conn: Connection) -> Callable[[], None] | None:
        """Push the on-connect messages; start the timed ones. Returns their cleanup."""
        tasks: list[asyncio.Task[None]] = []
        for operation in self.channel.operations:
            if operation.action != "send" or not operation.messages:
                continue
            if operation.interval is None:
                for message in operation.messages:
                    await self.push(conn, message, self.samples(message)[0])
            else:
                tasks.append(
                    asyncio.create_task(
                        self._every(conn, operation), name=f"mockws push {operation.name} {conn.id}"
                    )
                )
        if not tasks:
            return None

        def cleanup() -> None:
            for task in tasks:
                task.cancel()

        return cleanup

    async def _every(self, conn: Connection, operation: OperationSpec) -> None:
        assert operation.interval is not None
        rounds = itertools.cycle(
            [
                (message, sample)
                for message in operation.messages
                for sample in self.samples(message)
            ]
        )
        with contextlib.suppress(asyncio.CancelledError):
            while not conn.closed:
                message, sample = next(rounds)
                try:
                    await self.push(conn, message, sample)
                except Exception:  # noqa: BLE001 - a failed push must not end the timer silently
                    log.exception("%s: pushing %s failed", conn.id, message.name)
                    return
                await asyncio.sleep(operation.interval)

    def reply_stage(self) -> Stage:
        """The stage that answers requests of operations with a ``reply``."""
        requests = self._requests

        async def reply(conn: Connection, data: Any) -> bool:
            for operation in requests:
                match = self.validator.match(data, operation.messages)
                # An invalid request still gets its answer in warn mode (reject mode
                # stopped it before this stage) when it is near enough to the request.
                request = match.message or match.closest
                if request is not None:
                    await conn.send(self.answer(request, operation.reply[0], data))
                    return True
            return False

        return reply

    def answer(self, request: MessageSpec, reply: MessageSpec, data: Any) -> Any:
        """The reply to ``data``: a sample of ``reply`` with the request's correlation id."""
        answer = copy.deepcopy(self.samples(reply)[0])
        source = request.correlation or reply.correlation
        target = reply.correlation or request.correlation
        if source and target:
            value = _get(data, source)
            if value is not None:
                _set(answer, target, value)
        return answer


class SpecRuntime:
    """Everything an endpoint tied to an AsyncAPI channel runs.

    Built once per endpoint from its :class:`ChannelBinding`: the stages a
    message passes before the handler (validation, then the replies when
    the endpoint plays the channel), the handshake check, the check of
    outgoing messages and what runs when a connection opens.
    """

    def __init__(self, binding: ChannelBinding) -> None:
        self.binding = binding
        self.validator = ChannelValidator(binding.channel)
        self._invalid: dict[str, int] = {}
        self.player = SpecPlayer(binding.channel, self.validator) if binding.play else None
        stages = [validation_stage(binding, self.validator, self._invalid)]
        if self.player is not None and self.player.answers:
            stages.append(self.player.reply_stage())
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.outgoing = outgoing_check(self.validator)

    def handshake(
        self, params: Mapping[str, str], query: Mapping[str, str], secret: frozenset[str]
    ) -> list[str]:
        """Why an upgrade breaks the channel's parameters or ``query`` schema (none: valid)."""
        return self.validator.handshake(params, query, secret)

    async def open(self, conn: Connection) -> Callable[[], None]:
        """Push the on-connect messages and start the timed ones; return the cleanup."""
        pushes = await self.player.open(conn) if self.player is not None else None
        invalid = self._invalid

        def cleanup() -> None:
            invalid.pop(conn.id, None)
            if pushes is not None:
                pushes()

        return cleanup
