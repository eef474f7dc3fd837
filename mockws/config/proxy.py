"""The ``proxy``, ``record`` and ``replay`` keys of an endpoint: shapes and validation.

A proxied endpoint forwards each client connection to one upstream
connection; ``record`` writes every frame of an endpoint's connections to
JSON Lines; a ``replay`` endpoint plays such a recording back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from .keys import KeyReader, describe_value
from .patterns import compile_pattern

__all__ = [
    "DEFAULT_RECORD_LIMIT",
    "PROXY_KEYS",
    "REPLAY_KEYS",
    "ProxyConfig",
    "RecordConfig",
    "ReplayConfig",
    "parse_proxy",
    "parse_record",
    "parse_replay",
]

DEFAULT_RECORD_LIMIT = 64 * 1024 * 1024
PROXY_KEYS = (
    "url",
    "forward_query",
    "drop_query",
    "headers",
    "subprotocols",
    "connect_timeout",
    "verify",
)
REPLAY_KEYS = ("file", "mode", "speed", "loop", "conn", "match")
_URL_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_RECORD_FIELDS = frozenset({"conn", "date"})


@dataclass(frozen=True)
class ProxyConfig:
    """Where a proxied endpoint's connections go, and how.

    Attributes:
        url: The upstream ``ws://`` or ``wss://`` URL; ``{name}`` is filled
            from the client's path parameters.
        forward_query: Send the client's query string upstream (as the
            client sent it, secrets included) unless its names are in
            ``drop_query``.
        drop_query: Query parameters never forwarded.
        headers: Extra request headers for the upstream handshake.
        subprotocols: ``"forward"`` offers the client's subprotocols
            upstream and echoes the one the upstream chose; a tuple offers
            those; empty offers none.
        connect_timeout: Seconds to wait for the upstream's handshake.
        verify: Check a wss:// upstream's certificate.
    """

    url: str
    forward_query: bool = True
    drop_query: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    subprotocols: Literal["forward"] | tuple[str, ...] = "forward"
    connect_timeout: float = 5.0
    verify: bool = True


@dataclass(frozen=True)
class RecordConfig:
    """Recording an endpoint's frames to JSON Lines.

    Attributes:
        path: The file, resolved against the config folder; ``{conn}`` and
            ``{date}`` in it give each connection its own file.
        limit: Bytes a file may grow to; recording then stops with a warning.
    """

    path: Path
    limit: int = DEFAULT_RECORD_LIMIT

    @property
    def per_connection(self) -> bool:
        """True when the path names a file per connection."""
        return "{conn}" in str(self.path)


@dataclass(frozen=True)
class ReplayConfig:
    """Playing a recording back on a replay endpoint.

    Attributes:
        file: The JSON Lines recording.
        mode: ``timeline`` sends the recorded server frames at their offsets;
            ``reactive`` waits for a client message before each reply.
        speed: Offsets are divided by it; 0 sends without waiting.
        loop: Start over when the recording ends.
        conn: Which recorded connection to play (default: the first).
        match: ``subset``: a client message must contain the recorded one
            (JSON subset, or equal text); ``any``: any message will do.
    """

    file: Path
    mode: Literal["timeline", "reactive"] = "timeline"
    speed: float = 1.0
    loop: bool = False
    conn: str | None = None
    match: Literal["subset", "any"] = "subset"


def parse_proxy(section: KeyReader, pattern: str) -> ProxyConfig | None:
    """Read the endpoint key ``proxy`` (a URL or a mapping); None when absent."""
    value = section.raw("proxy")
    if value is None:
        return None
    if isinstance(value, str):
        value = {"url": value}
    proxy = KeyReader(value, section.path("proxy"), section.source, "a URL or a mapping {url, ...}")
    url = proxy.string("url", required=True)
    assert url is not None
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise proxy.error("url", f"expected a ws:// or wss:// URL, got {url!r}")
    known = set(compile_pattern(pattern).param_names)
    for name in _URL_PARAM.findall(url):
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise proxy.error(
                "url", f"{{{name}}} is not a parameter of the pattern {pattern} (it has: {have})"
            )
    subprotocols = _subprotocols(proxy)
    timeout = proxy.duration("connect_timeout", 5.0)
    result = ProxyConfig(
        url=url,
        forward_query=proxy.boolean("forward_query", True),
        drop_query=proxy.string_list("drop_query") or (),
        headers=_headers(proxy),
        subprotocols=subprotocols,
        connect_timeout=timeout if timeout else 5.0,
        verify=proxy.boolean("verify", True),
    )
    proxy.finish(PROXY_KEYS)
    return result


def _subprotocols(proxy: KeyReader) -> Literal["forward"] | tuple[str, ...]:
    value = proxy.raw("subprotocols", "forward")
    if value == "forward":
        return "forward"
    listed = proxy.string_list("subprotocols", token=True)
    return listed or ()


def _headers(proxy: KeyReader) -> tuple[tuple[str, str], ...]:
    headers = proxy.child("headers", "a mapping of header names to values")
    if headers is None:
        return ()
    items = []
    for name in list(proxy.raw("headers")):
        if not isinstance(name, str):
            raise proxy.error("headers", f"a header name must be text, got {describe_value(name)}")
        value = headers.raw(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            items.append((name, str(value)))
            continue
        text = headers.string(name)
        if text is None:
            raise headers.error(name, "expected text, got null")
        items.append((name, text))
    return tuple(items)


def parse_record(section: KeyReader, base_dir: Path) -> RecordConfig | None:
    """Read the endpoint keys ``record`` and ``record_limit``; None when not recording."""
    path = section.string("record")
    limit = section.integer("record_limit", DEFAULT_RECORD_LIMIT, minimum=1, unit=" of bytes")
    if path is None:
        if section.has("record_limit"):
            raise section.error("record_limit", "needs 'record' (the file to record to)")
        return None
    for name in re.findall(r"\{([^}]*)\}", path):
        if name not in _RECORD_FIELDS:
            raise section.error("record", f"unknown field {{{name}}}: use {{conn}} or {{date}}")
    return RecordConfig(path=base_dir / path, limit=limit)


def parse_replay(section: KeyReader, base_dir: Path) -> ReplayConfig | None:
    """Read the endpoint key ``replay`` (a file or a mapping); None when absent."""
    value = section.raw("replay")
    if value is None:
        return None
    if isinstance(value, str):
        value = {"file": value}
    replay = KeyReader(value, section.path("replay"), section.source, "a file or a mapping {file}")
    name = replay.string("file", required=True)
    assert name is not None
    file = (base_dir / name).resolve()
    if not file.is_file():
        raise replay.error("file", f"no such recording: {file}")
    mode = replay.string("mode", "timeline")
    if mode not in ("timeline", "reactive"):
        raise replay.error("mode", f"expected timeline or reactive, got {mode!r}")
    match = replay.string("match", "subset")
    if match not in ("subset", "any"):
        raise replay.error("match", f"expected subset or any, got {match!r}")
    speed = replay.raw("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, (int, float)) or speed < 0:
        raise replay.error("speed", f"expected a number >= 0, got {describe_value(speed)}")
    result = ReplayConfig(
        file=file,
        mode="reactive" if mode == "reactive" else "timeline",
        speed=float(speed),
        loop=replay.boolean("loop", False),
        conn=replay.string("conn"),
        match="any" if match == "any" else "subset",
    )
    replay.finish(REPLAY_KEYS)
    return result
