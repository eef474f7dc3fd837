"""Load an AsyncAPI 3.0 or 2.6 document into channels, and channels into endpoints.

A document is YAML or JSON. ``$ref`` inside the file and to relative files
are resolved with the ``referencing`` library (the ``asyncapi`` extra,
imported only when a config names a document); every ``$ref`` in every file
is resolved once at load, so a broken one is reported before serving. Each
error names the document's file, the line and the JSON pointer of the value
at fault.

Each channel of a ``ws`` or ``wss`` server becomes one endpoint: its pattern
is the server's pathname followed by the channel address, whose
``{parameters}`` are mockws pattern captures. Operations are read from the
document's own side, the application being the mock: 3.0 ``send`` (2.6
``subscribe``) messages are pushed, 3.0 ``receive`` (2.6 ``publish``)
messages are validated and, with a ``reply``, answered.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

from ..errors import ConfigError
from .asyncapi_model import (
    VALIDATE_MODES,
    AsyncApiSettings,
    ChannelBinding,
    ChannelSpec,
    MessageSpec,
    OperationSpec,
    ParameterSpec,
    SpecDocument,
    ValidateMode,
)
from .durations import parse_duration
from .keys import KeyReader, describe_value
from .model import Config, EndpointConfig
from .patterns import DuplicatePattern, PatternError, compile_distinct, compile_pattern
from .yaml_source import SourceMap, load_yaml

__all__ = [
    "ASYNCAPI_KEYS",
    "DRAFT_07",
    "ENDPOINT_ASYNCAPI_KEYS",
    "INSTALL_HINT",
    "LoadedSpec",
    "SpecCache",
    "find_channel",
    "import_optional",
    "load_spec",
    "parse_asyncapi",
    "parse_endpoint_asyncapi",
    "refresh_spec",
    "spec_endpoints",
]

INSTALL_HINT = "pip install 'mockws[asyncapi]'"
ASYNCAPI_KEYS = ("file", "validate", "max_invalid")
ENDPOINT_ASYNCAPI_KEYS = ("file", "channel", "validate", "max_invalid")

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
# AsyncAPI's own schema format is a superset of draft 07; JSON Schema formats name their draft.
_DIALECTS = {
    "draft-04": "http://json-schema.org/draft-04/schema#",
    "draft-06": "http://json-schema.org/draft-06/schema#",
    "draft-07": DRAFT_07,
    "2019-09": "https://json-schema.org/draft/2019-09/schema",
    "2020-12": "https://json-schema.org/draft/2020-12/schema",
}
_MAX_REF_CHAIN = 64
_DATA_KEYS = frozenset({"examples", "example", "const", "enum", "default"})
_SERVER_VARIABLE = re.compile(r"\{([^{}]+)\}")

SpecCache = dict[Path, "LoadedSpec"]
"""Documents already loaded while reading one config, by resolved path."""


def import_optional(name: str, file: Path | None = None) -> ModuleType:
    """Import ``name`` (``referencing``, ``jsonschema``), or say how to install it.

    Raises:
        ConfigError: The library is missing; the message names the extra.
    """
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigError(
            f"AsyncAPI support needs the '{name}' library: {INSTALL_HINT}", file=file
        ) from None


@dataclass(frozen=True)
class LoadedSpec:
    """A document and its WebSocket channels.

    Attributes:
        document: The document, its files and problems.
        channels: One per (ws server pathname, channel), in document order.
    """

    document: SpecDocument
    channels: tuple[ChannelSpec, ...]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _tokens(pointer: str) -> list[str]:
    if not pointer:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _dialect(schema_format: object) -> str | None:
    """Return the JSON Schema dialect of a ``schemaFormat``, None when it is not JSON Schema."""
    if schema_format is None:
        return DRAFT_07
    text = str(schema_format).lower()
    if text.startswith("application/vnd.aai.asyncapi"):
        return DRAFT_07
    if text.startswith("application/schema+json") or text.startswith("application/schema+yaml"):
        for name, dialect in _DIALECTS.items():
            if name in text:
                return dialect
        return DRAFT_07
    return None


class _Document:
    """One parsed file: its data and the line of every value."""

    def __init__(self, path: Path, data: Any, source: SourceMap, raw: bytes) -> None:
        self.path = path
        self.data = data
        self.source = source
        self.raw = raw

    def line_of(self, pointer: str) -> int | None:
        node: Any = self.data
        key = ""
        best = self.source.lines.get("", self.source.default_line)
        for token in _tokens(pointer):
            if isinstance(node, list) and token.isdigit() and int(token) < len(node):
                key, node = f"{key}[{token}]", node[int(token)]
            elif isinstance(node, dict) and token in node:
                key, node = (f"{key}.{token}" if key else token), node[token]
            else:
                break
            best = self.source.lines.get(key, best)
        return best


class _Reader:
    """Reads one document: loads files, follows ``$ref``, builds the channels."""

    def __init__(self, path: Path) -> None:
        self._referencing = import_optional("referencing", path)
        import_optional("jsonschema", path)
        from referencing.jsonschema import DRAFT7

        self._draft7 = DRAFT7
        self.docs: dict[str, _Document] = {}
        self.registry: Any = self._referencing.Registry()
        self.problems: list[str] = []
        self.root_uri = path.resolve().as_uri()
        self.root = self.load(self.root_uri, None)

    # -- files and errors

    def error(self, uri: str, pointer: str, message: str) -> ConfigError:
        doc = self.docs.get(uri)
        path = doc.path if doc is not None else Path(unquote(urlsplit(uri).path))
        line = doc.line_of(pointer) if doc is not None else None
        return ConfigError(message, file=path, line=line, key=f"#{pointer}")

    def problem(self, uri: str, pointer: str, message: str) -> None:
        line = str(self.error(uri, pointer, message))
        if line not in self.problems:
            self.problems.append(line)

    def load(self, uri: str, origin: tuple[str, str] | None) -> Any:
        """Parse the file at ``uri`` once; ``origin`` is the ``$ref`` that named it."""
        if uri in self.docs:
            return self.docs[uri].data
        parts = urlsplit(uri)
        if parts.scheme != "file":
            message = f"cannot follow $ref to {uri}: only files next to the document are read"
            if origin is None:
                raise ConfigError(message)
            raise self.error(*origin, message)
        path = Path(unquote(parts.path))
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if origin is None:
                raise ConfigError(f"cannot read the AsyncAPI document: {why}", file=path) from None
            message = f"cannot read the file this $ref names ({path}): {why}"
            raise self.error(*origin, message) from None
        data, source = load_yaml(text, path)
        self.docs[uri] = _Document(path, data, source, raw)
        resource = self._referencing.Resource(contents=data, specification=self._draft7)
        self.registry = self.registry.with_resource(uri, resource)
        return data

    # -- $ref

    def follow(self, node: Any, uri: str, pointer: str) -> tuple[Any, str, str]:
        """Follow ``node``'s ``$ref`` chain; return the target, its file URI and pointer."""
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            origin = (uri, f"{pointer}/$ref")
            if not isinstance(ref, str):
                raise self.error(*origin, f"$ref must be a string, got {describe_value(ref)}")
            target = urljoin(uri, ref)
            if target in seen or len(seen) > _MAX_REF_CHAIN:
                raise self.error(*origin, f"$ref {ref!r} is circular")
            seen.add(target)
            target_uri, fragment = urldefrag(target)
            self.load(target_uri, origin)
            node, uri, pointer = self._lookup(target, target_uri, unquote(fragment), origin, ref)
        return node, uri, pointer

    def _lookup(
        self, target: str, uri: str, pointer: str, origin: tuple[str, str], ref: str
    ) -> tuple[Any, str, str]:
        """Return the node ``target`` names, with the file URI and pointer where it really is."""
        exceptions = self._referencing.exceptions
        try:
            return self.registry.resolver().lookup(target).contents, uri, pointer
        except exceptions.PointerToNowhere:
            pass
        except exceptions.Unresolvable as exc:
            raise self.error(*origin, f"cannot resolve $ref {ref!r}: {exc}") from None
        # The pointer passes through a $ref of its own (#/channels/a/messages/m/payload):
        # walk it a step at a time, following each.
        node: Any = self.docs[uri].data
        walked = ""
        for token in _tokens(pointer):
            node, uri, walked = self.follow(node, uri, walked)
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise self.error(*origin, f"$ref {ref!r} points to nothing ({walked or '/'})")
            walked = f"{walked}/{_escape(token)}"
        return node, uri, walked

    def check_refs(self) -> None:
        """Resolve every ``$ref`` of every file, so that a broken one fails the load."""
        done: set[str] = set()
        while True:
            pending = [uri for uri in self.docs if uri not in done]
            if not pending:
                return
            for uri in pending:
                done.add(uri)
                self._check_node(self.docs[uri].data, uri, "")

    def _check_node(self, node: Any, uri: str, pointer: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) or "$ref" in node:
                self.follow({"$ref": node["$ref"]}, uri, pointer)
            for key, value in node.items():
                # Examples and constants are data: a "$ref" key in them is not a reference.
                if key != "$ref" and key not in _DATA_KEYS:
                    self._check_node(value, uri, f"{pointer}/{_escape(str(key))}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self._check_node(value, uri, f"{pointer}/{index}")

    # -- reading values

    def mapping(self, node: Any, uri: str, pointer: str, what: str) -> dict[str, Any]:
        node, _, _ = self.follow(node, uri, pointer)
        if node is None:
            return {}
        if not isinstance(node, dict):
            raise self.error(uri, pointer, f"expected {what}, got {describe_value(node)}")
        return node

    def interval(self, node: dict[str, Any], uri: str, pointer: str) -> float | None:
        value = node.get("x-mockws-interval")
        if value is None:
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.error(uri, f"{pointer}/x-mockws-interval", str(exc)) from None
        return seconds if seconds > 0 else None

    def message(self, node: Any, uri: str, pointer: str) -> MessageSpec:
        node, uri, pointer = self.follow(node, uri, pointer)
        if not isinstance(node, dict):
            raise self.error(uri, pointer, f"expected a message, got {describe_value(node)}")
        tokens = _tokens(pointer)
        name = node.get("name") or (tokens[-1] if tokens else "message")
        payload = node.get("payload")
        payload_pointer = f"{pointer}/payload"
        schema_format = node.get("schemaFormat")
        if isinstance(payload, dict) and "schemaFormat" in payload and "schema" in payload:
            schema_format = payload["schemaFormat"]
            payload_pointer += "/schema"
        payload_uri = uri
        if isinstance(payload, dict) and "$ref" in payload:
            # The schema's own place, so that a validator reaches it by a plain pointer.
            payload, payload_uri, payload_pointer = self.follow(payload, uri, payload_pointer)
        dialect = _dialect(schema_format)
        if dialect is None:
            self.problem(
                uri,
                pointer,
                f"schemaFormat {schema_format!r} is not JSON Schema: "
                f"payloads of message {name!r} are not validated",
            )
        examples = []
        raw_examples = node.get("examples") or []
        if not isinstance(raw_examples, list):
            raise self.error(uri, f"{pointer}/examples", "expected a list of examples")
        for index, example in enumerate(raw_examples):
            example, _, _ = self.follow(example, uri, f"{pointer}/examples/{index}")
            if isinstance(example, dict) and "payload" in example:
                examples.append(example["payload"])
            else:
                self.problem(uri, f"{pointer}/examples/{index}", "an example without 'payload'")
        return MessageSpec(
            name=str(name),
            where=f"{self.display(uri)}#{pointer}",
            payload=(
                f"{payload_uri}#{quote(payload_pointer, safe='/~')}"
                if payload is not None and dialect is not None
                else None
            ),
            default_dialect=dialect or DRAFT_07,
            examples=tuple(examples),
            correlation=self.correlation(node, uri, pointer),
        )

    def correlation(self, message: dict[str, Any], uri: str, pointer: str) -> str | None:
        if "correlationId" not in message:
            return None
        node, uri, pointer = self.follow(message["correlationId"], uri, f"{pointer}/correlationId")
        location = node.get("location") if isinstance(node, dict) else None
        if not isinstance(location, str):
            raise self.error(uri, pointer, "a correlationId needs a 'location' string")
        head, _, fragment = location.partition("#")
        if head == "$message.payload":
            return fragment
        self.problem(
            uri,
            f"{pointer}/location",
            f"correlation id location {location!r}: only $message.payload#/... "
            "travels over WebSocket; ignored",
        )
        return None

    def display(self, uri: str) -> str:
        return self.docs[uri].path.name if uri in self.docs else uri

    def schema_ref(self, uri: str, pointer: str) -> dict[str, Any]:
        """A schema that stands for the one at ``uri#pointer``, resolved by the validator."""
        return {"$ref": f"{uri}#{quote(pointer, safe='/~')}"}

    # -- servers

    def pathnames(self, servers: Any, version: int) -> dict[str, str]:
        """Return each ws/wss server's pathname by its place (``uri#pointer``)."""
        found: dict[str, str] = {}
        servers = self.mapping(servers, self.root_uri, "/servers", "a mapping of servers")
        for name, raw in servers.items():
            pointer = f"/servers/{_escape(str(name))}"
            node, uri, pointer = self.follow(raw, self.root_uri, pointer)
            if not isinstance(node, dict):
                raise self.error(uri, pointer, f"expected a server, got {describe_value(node)}")
            if str(node.get("protocol", "")).lower() not in ("ws", "wss"):
                continue
            variables = node.get("variables") or {}
            if version >= 3:
                path = str(node.get("pathname") or "")
            else:
                url = str(node.get("url") or "")
                path = urlsplit(url if "://" in url else f"//{url}").path
            path = _SERVER_VARIABLE.sub(partial(_default, variables), path)
            found[f"{uri}#{pointer}"] = path.rstrip("/")
        return found


def _default(variables: Any, found: re.Match[str]) -> str:
    """A server variable's default value, for its ``{name}`` in a URL."""
    variable = variables.get(found.group(1)) if isinstance(variables, dict) else None
    return str(variable.get("default", "")) if isinstance(variable, dict) else ""


def _join(pathname: str, address: str) -> str:
    address = address if address.startswith("/") else f"/{address}"
    return f"{pathname}{address}" if pathname else address


def _digest(docs: Mapping[str, _Document]) -> str:
    digest = hashlib.sha256()
    for uri in sorted(docs):
        digest.update(uri.encode())
        digest.update(docs[uri].raw)
    return digest.hexdigest()


class _Builder:
    """Turns a read document into channels, for one AsyncAPI major version."""

    def __init__(self, reader: _Reader, version: str) -> None:
        self.reader = reader
        self.version = version
        self.major = int(version.split(".", 1)[0])
        root = reader.root
        self.servers = reader.pathnames(root.get("servers"), self.major)
        self.has_servers = bool(
            reader.mapping(root.get("servers"), reader.root_uri, "/servers", "")
        )
        if self.has_servers and not self.servers:
            raise reader.error(
                reader.root_uri, "/servers", "no server has protocol ws or wss: nothing to serve"
            )

    def channel_paths(self, declared: Any, uri: str, pointer: str) -> list[str]:
        """The pathnames a channel is served under (every ws server unless it names some)."""
        if not self.has_servers:
            return [""]
        if not declared:
            return list(dict.fromkeys(self.servers.values()))
        if not isinstance(declared, list):
            raise self.reader.error(uri, f"{pointer}/servers", "expected a list of servers")
        paths = []
        for index, item in enumerate(declared):
            if self.major >= 3:
                _, server_uri, server_pointer = self.reader.follow(
                    item, uri, f"{pointer}/servers/{index}"
                )
                where = f"{server_uri}#{server_pointer}"
            else:
                where = f"{self.reader.root_uri}#/servers/{_escape(str(item))}"
            if where in self.servers:
                paths.append(self.servers[where])
        return list(dict.fromkeys(paths))

    def parameters(self, node: dict[str, Any], uri: str, pointer: str) -> tuple[ParameterSpec, ...]:
        raw = self.reader.mapping(
            node.get("parameters"), uri, f"{pointer}/parameters", "a mapping of parameters"
        )
        result = []
        for name, value in raw.items():
            param_pointer = f"{pointer}/parameters/{_escape(str(name))}"
            param, param_uri, param_pointer = self.reader.follow(value, uri, param_pointer)
            if not isinstance(param, dict):
                raise self.reader.error(param_uri, param_pointer, "expected a parameter mapping")
            schema: dict[str, Any] | None = None
            if "schema" in param:
                schema = self.reader.schema_ref(param_uri, f"{param_pointer}/schema")
            elif "enum" in param or "pattern" in param:
                schema = {key: param[key] for key in ("enum", "pattern") if key in param}
            result.append(ParameterSpec(str(name), schema))
        return tuple(result)

    def query(self, node: dict[str, Any], uri: str, pointer: str) -> dict[str, Any] | None:
        bindings = self.reader.mapping(node.get("bindings"), uri, f"{pointer}/bindings", "bindings")
        if "ws" not in bindings:
            return None
        ws, ws_uri, ws_pointer = self.reader.follow(bindings["ws"], uri, f"{pointer}/bindings/ws")
        if not isinstance(ws, dict) or "query" not in ws:
            return None
        return self.reader.schema_ref(ws_uri, f"{ws_pointer}/query")

    def make_channels(
        self,
        name: str,
        address: str,
        node: dict[str, Any],
        uri: str,
        pointer: str,
        operations: tuple[OperationSpec, ...],
        document: SpecDocument,
    ) -> list[ChannelSpec]:
        channels = []
        self.reader.interval(node, uri, pointer)  # a bad value fails even with no operation
        for pathname in self.channel_paths(node.get("servers"), uri, pointer):
            pattern = _join(pathname, address)
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise self.reader.error(
                    uri, f"{pointer}/address" if self.major >= 3 else pointer, str(exc)
                ) from None
            channels.append(
                ChannelSpec(
                    name=name,
                    address=address,
                    pattern=pattern,
                    where=f"{self.reader.display(uri)}#{pointer}",
                    document=document,
                    parameters=self.parameters(node, uri, pointer),
                    query=self.query(node, uri, pointer),
                    operations=operations,
                )
            )
        return channels

    def build(self, document: SpecDocument) -> list[ChannelSpec]:
        return self.build_v3(document) if self.major >= 3 else self.build_v2(document)

    def build_v3(self, document: SpecDocument) -> list[ChannelSpec]:
        reader = self.reader
        root_uri = reader.root_uri
        raw_channels = reader.mapping(
            reader.root.get("channels"), root_uri, "/channels", "a mapping of channels"
        )
        found: dict[str, tuple[str, dict[str, Any], str, str]] = {}
        for key, value in raw_channels.items():
            node, uri, pointer = reader.follow(value, root_uri, f"/channels/{_escape(str(key))}")
            if not isinstance(node, dict):
                raise reader.error(uri, pointer, f"expected a channel, got {describe_value(node)}")
            found[f"{uri}#{pointer}"] = (str(key), node, uri, pointer)
            self.channel_messages(node, uri, pointer)  # every message is read, used or not
        operations: dict[str, list[OperationSpec]] = {where: [] for where in found}
        raw_operations = reader.mapping(
            reader.root.get("operations"), root_uri, "/operations", "a mapping of operations"
        )
        for key, value in raw_operations.items():
            node, uri, pointer = reader.follow(value, root_uri, f"/operations/{_escape(str(key))}")
            if not isinstance(node, dict):
                raise reader.error(uri, pointer, "expected an operation")
            action = node.get("action")
            if action not in ("send", "receive"):
                raise reader.error(
                    uri, f"{pointer}/action", f"expected 'send' or 'receive', got {action!r}"
                )
            if "channel" not in node:
                raise reader.error(uri, pointer, "an operation needs a 'channel' ($ref)")
            _, channel_uri, channel_pointer = reader.follow(
                node["channel"], uri, f"{pointer}/channel"
            )
            where = f"{channel_uri}#{channel_pointer}"
            if where not in found:
                raise reader.error(
                    uri, f"{pointer}/channel", "does not name a channel of /channels"
                )
            channel = found[where]
            operations[where].append(
                self.operation_v3(str(key), action, node, uri, pointer, channel)
            )
        channels = []
        for where, (key, node, uri, pointer) in found.items():
            address = node.get("address")
            if address is None:
                reader.problem(uri, pointer, f"channel {key!r} has no address: not served")
                continue
            if not isinstance(address, str):
                raise reader.error(uri, f"{pointer}/address", "expected a string")
            channels += self.make_channels(
                key, address, node, uri, pointer, tuple(operations[where]), document
            )
        return channels

    def channel_messages(self, node: dict[str, Any], uri: str, pointer: str) -> list[MessageSpec]:
        raw = self.reader.mapping(
            node.get("messages"), uri, f"{pointer}/messages", "a mapping of messages"
        )
        return [
            self.reader.message(value, uri, f"{pointer}/messages/{_escape(str(key))}")
            for key, value in raw.items()
        ]

    def message_list(self, value: Any, uri: str, pointer: str) -> list[MessageSpec]:
        value, uri, pointer = self.reader.follow(value, uri, pointer)
        if not isinstance(value, list):
            raise self.reader.error(uri, pointer, "expected a list of message $refs")
        return [
            self.reader.message(item, uri, f"{pointer}/{index}") for index, item in enumerate(value)
        ]

    def operation_v3(
        self,
        name: str,
        action: Literal["send", "receive"],
        node: dict[str, Any],
        uri: str,
        pointer: str,
        channel: tuple[str, dict[str, Any], str, str],
    ) -> OperationSpec:
        reader = self.reader
        _, channel_node, channel_uri, channel_pointer = channel
        if "messages" in node:
            messages = self.message_list(node["messages"], uri, f"{pointer}/messages")
        else:
            messages = self.channel_messages(channel_node, channel_uri, channel_pointer)
        reply: list[MessageSpec] = []
        if "reply" in node:
            reply_node, reply_uri, reply_pointer = reader.follow(
                node["reply"], uri, f"{pointer}/reply"
            )
            if not isinstance(reply_node, dict):
                raise reader.error(reply_uri, reply_pointer, "expected a reply mapping")
            if "messages" in reply_node:
                reply = self.message_list(
                    reply_node["messages"], reply_uri, f"{reply_pointer}/messages"
                )
            else:
                target = reply_node.get("channel", node["channel"])
                target_node, target_uri, target_pointer = reader.follow(
                    target, reply_uri, f"{reply_pointer}/channel"
                )
                if isinstance(target_node, dict):
                    reply = self.channel_messages(target_node, target_uri, target_pointer)
            if action == "send":
                reader.problem(
                    uri,
                    f"{pointer}/reply",
                    "a send operation's reply comes from the client: the mock does not wait for it",
                )
                reply = []
            elif not reply:
                reader.problem(uri, f"{pointer}/reply", "the reply names no message: no answer")
        interval = reader.interval(node, uri, pointer) or reader.interval(
            channel_node, channel_uri, channel_pointer
        )
        if not messages:
            reader.problem(uri, pointer, f"operation {name!r} has no messages")
        return OperationSpec(name, action, tuple(messages), tuple(reply), interval)

    def build_v2(self, document: SpecDocument) -> list[ChannelSpec]:
        reader = self.reader
        root_uri = reader.root_uri
        raw_channels = reader.mapping(
            reader.root.get("channels"), root_uri, "/channels", "a mapping of channels"
        )
        channels = []
        for address, value in raw_channels.items():
            node, uri, pointer = reader.follow(
                value, root_uri, f"/channels/{_escape(str(address))}"
            )
            if not isinstance(node, dict):
                raise reader.error(uri, pointer, f"expected a channel, got {describe_value(node)}")
            operations = []
            for kind, action in (("subscribe", "send"), ("publish", "receive")):
                if kind not in node:
                    continue
                op, op_uri, op_pointer = reader.follow(node[kind], uri, f"{pointer}/{kind}")
                if not isinstance(op, dict):
                    raise reader.error(op_uri, op_pointer, "expected an operation")
                messages = self.messages_v2(op, op_uri, op_pointer)
                interval = reader.interval(op, op_uri, op_pointer) or reader.interval(
                    node, uri, pointer
                )
                name = str(op.get("operationId") or f"{kind} {address}")
                operations.append(
                    OperationSpec(name, action, tuple(messages), (), interval)  # type: ignore[arg-type]
                )
            channels += self.make_channels(
                str(address), str(address), node, uri, pointer, tuple(operations), document
            )
        return channels

    def messages_v2(self, op: dict[str, Any], uri: str, pointer: str) -> list[MessageSpec]:
        if "message" not in op:
            self.reader.problem(uri, pointer, "the operation has no message")
            return []
        node, node_uri, node_pointer = self.reader.follow(op["message"], uri, f"{pointer}/message")
        if isinstance(node, dict) and "oneOf" in node:
            return self.message_list(node["oneOf"], node_uri, f"{node_pointer}/oneOf")
        return [self.reader.message(node, node_uri, node_pointer)]


def load_spec(path: Path, cache: SpecCache | None = None) -> LoadedSpec:
    """Load the AsyncAPI document at ``path`` with every file its ``$ref`` reach.

    Raises:
        ConfigError: The document or a file it references is missing or
            invalid, or ``referencing``/``jsonschema`` are not installed; the
            message names the file, line and JSON pointer.
    """
    path = path.resolve()
    if cache is not None and path in cache:
        return cache[path]
    reader = _Reader(path)
    root = reader.root
    if not isinstance(root, dict):
        raise reader.error(reader.root_uri, "", "an AsyncAPI document is a mapping")
    version = root.get("asyncapi")
    if not isinstance(version, str) or not re.match(r"[23]\.\d+", version):
        raise reader.error(
            reader.root_uri,
            "/asyncapi",
            "expected an AsyncAPI version such as '3.0.0' or '2.6.0', "
            f"got {describe_value(version)}",
        )
    reader.check_refs()
    builder = _Builder(reader, version)
    # The document's own fields first; the channels are built against it.
    document = SpecDocument(
        file=path,
        version=version,
        digest=_digest(reader.docs),
        files=tuple(doc.path for doc in reader.docs.values()),
        resources={uri: doc.data for uri, doc in reader.docs.items()},
    )
    channels = builder.build(document)
    if not channels:
        reader.problem(reader.root_uri, "/channels", "no channel to serve")
    document = replace(document, problems=tuple(reader.problems))
    channels = [replace(channel, document=document) for channel in channels]
    loaded = LoadedSpec(document, tuple(channels))
    if cache is not None:
        cache[path] = loaded
    return loaded


def find_channel(spec: LoadedSpec, wanted: str) -> ChannelSpec | None:
    """Return the channel whose id (3.0), address or pattern is ``wanted``."""
    for channel in spec.channels:
        if wanted in (channel.name, channel.address, channel.pattern):
            return channel
    return None


def _mode(reader: KeyReader, default: ValidateMode) -> ValidateMode:
    value = reader.string("validate", default) or default
    if value not in VALIDATE_MODES:
        raise reader.error("validate", f"expected warn or reject, got {value!r}")
    return value  # type: ignore[return-value]


def parse_asyncapi(top: KeyReader, base_dir: Path) -> AsyncApiSettings | None:
    """Read the top-level ``asyncapi:`` key: a file, or ``{file, validate, max_invalid}``."""
    value = top.raw("asyncapi")
    if value is None:
        return None
    if isinstance(value, str):
        return AsyncApiSettings(file=_spec_file(top, "asyncapi", value, base_dir))
    inner = KeyReader(value, top.path("asyncapi"), top.source, "a file or {file, validate, ...}")
    file = inner.string("file", required=True) or ""
    settings = AsyncApiSettings(
        file=_spec_file(inner, "file", file, base_dir),
        validate=_mode(inner, "warn"),
        max_invalid=inner.integer("max_invalid", 3),
    )
    inner.finish(ASYNCAPI_KEYS)
    return settings


def _spec_file(reader: KeyReader, key: str, value: str, base_dir: Path) -> Path:
    from .keys import expand_env

    value = expand_env(value, reader.source, reader.path(key))
    path = (base_dir / value).resolve()
    if not path.is_file():
        raise reader.error(key, f"no such AsyncAPI document: {path}")
    return path


def parse_endpoint_asyncapi(
    section: KeyReader,
    base_dir: Path,
    settings: AsyncApiSettings | None,
    cache: SpecCache,
    *,
    played: bool,
) -> ChannelBinding | None:
    """Read an endpoint's ``asyncapi: {file, channel, validate, max_invalid}``.

    Args:
        played: Nothing else serves the endpoint (no handler, no rules): the
            mock pushes and answers the channel's messages, as for a channel
            the top-level document turned into an endpoint.
    """
    if section.raw("asyncapi") is None:
        return None
    inner = section.child("asyncapi", "a mapping {file, channel}")
    assert inner is not None
    file = inner.string("file")
    if file is not None:
        path = _spec_file(inner, "file", file, base_dir)
    elif settings is not None:
        path = settings.file
    else:
        raise inner.error("file", "name the AsyncAPI document (or set the top-level asyncapi)")
    wanted = inner.string("channel", required=True) or ""
    spec = load_spec(path, cache)
    channel = find_channel(spec, wanted)
    if channel is None:
        names = [c.name for c in spec.channels]
        hint = difflib.get_close_matches(wanted, names, n=1)
        suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise inner.error(
            "channel",
            f"no WebSocket channel {wanted!r} in {path.name}{suggestion}; "
            f"channels: {', '.join(names) or '(none)'}",
        )
    default_mode: ValidateMode = settings.validate if settings is not None else "warn"
    binding = ChannelBinding(
        channel=channel,
        validate=_mode(inner, default_mode),
        max_invalid=inner.integer(
            "max_invalid", settings.max_invalid if settings is not None else 3
        ),
        play=played,
        declared=True,
    )
    inner.finish(ENDPOINT_ASYNCAPI_KEYS)
    return binding


def spec_endpoints(
    settings: AsyncApiSettings, cache: SpecCache, taken: set[str]
) -> tuple[EndpointConfig, ...]:
    """Return one endpoint per WebSocket channel of the top-level document.

    A channel whose pattern a hand-written endpoint already has is left to
    that endpoint (give it ``asyncapi: {channel: ...}`` to check its traffic).

    Raises:
        ConfigError: The document is invalid, or two channels have one pattern.
    """
    spec = load_spec(settings.file, cache)
    endpoints: dict[str, EndpointConfig] = {}
    for channel in spec.channels:
        if channel.pattern in taken:
            continue
        try:
            compile_distinct([*endpoints, channel.pattern])
        except DuplicatePattern as exc:
            file, _, pointer = channel.where.partition("#")
            raise ConfigError(
                f"channel {channel.name!r}: {exc}",
                file=settings.file.parent / file,
                key=f"#{pointer}",
            ) from None
        endpoints[channel.pattern] = EndpointConfig(
            pattern=channel.pattern,
            asyncapi=ChannelBinding(
                channel=channel, validate=settings.validate, max_invalid=settings.max_invalid
            ),
        )
    return tuple(endpoints.values())


def refresh_spec(config: Config) -> Config:
    """Return ``config`` with its AsyncAPI documents read again (for hot reload).

    Hand-written endpoints keep their settings and take their channel from
    the new document; the generated endpoints are made anew.

    Raises:
        ConfigError: A document is now invalid, or an endpoint's channel is gone.
    """
    cache: SpecCache = {}
    endpoints = []
    for endpoint in config.endpoints:
        binding = endpoint.asyncapi
        if binding is None:
            endpoints.append(endpoint)
            continue
        if not binding.declared:
            continue
        spec = load_spec(binding.channel.document.file, cache)
        channel = next(
            (
                c
                for c in spec.channels
                if c.name == binding.channel.name and c.pattern == binding.channel.pattern
            ),
            None,
        ) or find_channel(spec, binding.channel.name)
        if channel is None:
            raise ConfigError(
                f"channel {binding.channel.name!r} is no longer in the document",
                file=binding.channel.document.file,
            )
        endpoints.append(replace(endpoint, asyncapi=replace(binding, channel=channel)))
    if config.asyncapi is not None:
        endpoints += spec_endpoints(config.asyncapi, cache, {e.pattern for e in endpoints})
    return replace(config, endpoints=tuple(endpoints))
