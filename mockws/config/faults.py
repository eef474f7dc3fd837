"""Network faults of an endpoint: what the ``faults:`` key says, validated.

::

    faults:
      latency: 50ms                         # or [20ms, 200ms]; every outgoing message, order kept
      drop: 0.05                            # probability an outgoing message is lost (or "5%")
      disconnect: {after: 20, code: 1011}   # after N messages out, or {after: 30s}; code: abort
      refuse: {next: 3, status: 503}        # the next N handshakes get the status, then accept
      stall: {after: 10s}                   # stop writing and answering pings (a half-open peer)
      seed: 42                              # the same drops and delays on every run

The same shape is accepted at run time (``POST /__mockws/api/endpoints/faults``,
``RunningServer.set_faults``) through :func:`faults_from_data`, and the
one-connection faults of ``POST api/connections/{id}/fault`` through
:func:`connection_fault_from_data`. :mod:`mockws.hub.faults` carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from .durations import DurationRange, parse_duration
from .keys import KeyReader
from .yaml_source import SourceMap

__all__ = [
    "CONNECTION_FAULT_KEYS",
    "FAULT_KEYS",
    "ConnectionFault",
    "DisconnectFault",
    "FaultsConfig",
    "RefuseFault",
    "Trigger",
    "connection_fault_from_data",
    "describe_range",
    "faults_from_data",
    "parse_faults",
]

FAULT_KEYS = ("latency", "drop", "disconnect", "refuse", "stall", "seed")
CONNECTION_FAULT_KEYS = ("abort", "stall", "close", "latency", "drop")
_DISCONNECT_KEYS = ("after", "code", "reason")
_REFUSE_KEYS = ("next", "status")
_STALL_KEYS = ("after",)
# RFC 6455 5.5: a close frame's payload is at most 125 bytes, 2 of them the code.
_MAX_REASON_BYTES = 123
# Which codes may be sent is wire.close.CloseCode.sendable's rule (a floor above
# config): mockws.hub.faults checks it when the faults are installed.
_CODES = range(1000, 5000)
_NORMAL_CLOSE = 1000
_AFTER_HINT = "a whole number of messages out, or a duration like 30s"
_PROBABILITY_HINT = "a probability between 0 and 1, or a percentage like 5%"


@dataclass(frozen=True)
class Trigger:
    """When a fault strikes: after a number of messages out, or a time.

    Exactly one is set. Both count from the moment the connection opened,
    or from when its faults were last set at run time.
    """

    messages: int | None = None
    seconds: float | None = None

    def describe(self) -> str:
        """Say when, for a log line: ``after 20 messages`` or ``after 30s``."""
        if self.messages is not None:
            return f"after {self.messages} message{'s' if self.messages != 1 else ''} out"
        return f"after {_seconds(self.seconds or 0.0)}"


@dataclass(frozen=True)
class DisconnectFault:
    """End the connection when ``after`` strikes.

    Attributes:
        after: When.
        code: The close code sent; None aborts (a TCP reset, no close frame,
            which a browser reports as 1006).
        reason: The close reason sent with ``code``.
    """

    after: Trigger
    code: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class RefuseFault:
    """Refuse the next ``next`` handshakes to the endpoint with HTTP ``status``, then accept."""

    next: int
    status: int = 503


@dataclass(frozen=True)
class FaultsConfig:
    """The network faults of one endpoint.

    Attributes:
        latency: Added to every outgoing message (a fixed time or a uniform
            range); a connection's messages keep their order.
        drop: Probability that an outgoing message is lost, 0 to 1.
        disconnect: End each connection after some messages or some time.
        refuse: Refuse the next handshakes, then accept.
        stall: Stop writing (and answering pings) after some messages or time.
        seed: Makes drops and delays the same on every run.
    """

    latency: DurationRange | None = None
    drop: float = 0.0
    disconnect: DisconnectFault | None = None
    refuse: RefuseFault | None = None
    stall: Trigger | None = None
    seed: int | None = None

    @property
    def outbound(self) -> bool:
        """True when the faults act on connections (everything but ``refuse``)."""
        return bool(
            self.latency is not None
            or self.drop
            or self.disconnect is not None
            or self.stall is not None
        )

    def describe(self) -> str:
        """Summarise the faults for a log line or the inspector: ``latency 50ms, drop 5%``."""
        parts = []
        if self.latency is not None:
            parts.append(f"latency {describe_range(self.latency)}")
        if self.drop:
            parts.append(f"drop {self.drop:.0%}" if self.drop >= 0.01 else f"drop {self.drop:g}")
        if self.disconnect is not None:
            how = "abort" if self.disconnect.code is None else f"close {self.disconnect.code}"
            parts.append(f"disconnect ({how}) {self.disconnect.after.describe()}")
        if self.refuse is not None:
            parts.append(f"refuse next {self.refuse.next} with {self.refuse.status}")
        if self.stall is not None:
            parts.append(f"stall {self.stall.describe()}")
        if self.seed is not None and parts:
            parts.append(f"seed {self.seed}")
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class ConnectionFault:
    """A fault injected into one open connection at run time.

    Attributes:
        abort: Drop it now with a TCP reset (no close frame).
        stall: Stop writing to it and answering its pings, from now on.
        close: Close it now with this code and reason.
        latency: Its outgoing latency from now on (zero removes it); None
            leaves it as it is.
        drop: Its drop probability from now on; None leaves it as it is.
    """

    abort: bool = False
    stall: bool = False
    close: tuple[int, str] | None = None
    latency: DurationRange | None = None
    drop: float | None = None


def _seconds(value: float) -> str:
    if value and value < 1:
        return f"{value * 1000:g}ms"
    return f"{value:g}s"


def describe_range(span: DurationRange) -> str:
    """Write a duration range as users do: ``50ms`` or ``[20ms, 200ms]``."""
    if span.fixed:
        return _seconds(span.low)
    return f"[{_seconds(span.low)}, {_seconds(span.high)}]"


def _trigger(reader: KeyReader, name: str) -> Trigger:
    value = reader.raw(name)
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise reader.error(name, f"expected {_AFTER_HINT}, got {value}")
        return Trigger(messages=value)
    if isinstance(value, str):
        try:
            return Trigger(seconds=parse_duration(value))
        except ValueError:
            pass
    shown = repr(value) if isinstance(value, (str, float)) else type(value).__name__
    raise reader.error(name, f"expected {_AFTER_HINT}, got {shown}")


def _probability(reader: KeyReader, name: str) -> float:
    value = reader.raw(name, 0.0)
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1]) / 100
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise reader.error(name, f"expected {_PROBABILITY_HINT}, got {value!r}")
    return float(value)


def _latency(reader: KeyReader) -> DurationRange | None:
    span = reader.duration_range("latency")
    return None if span is None or span.high == 0 else span


def _close_code(reader: KeyReader, name: str, default: int | None) -> int | None:
    value = reader.raw(name, default)
    if value == "abort" or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value not in _CODES:
        raise reader.error(name, f"expected 'abort' or a close code (1000-4999), got {value!r}")
    return value


def _reason(reader: KeyReader) -> str:
    reason = reader.string("reason", "") or ""
    if len(reason.encode()) > _MAX_REASON_BYTES:
        raise reader.error("reason", f"expected at most {_MAX_REASON_BYTES} bytes of UTF-8")
    return reason


def _disconnect(reader: KeyReader) -> DisconnectFault | None:
    inner = reader.child("disconnect", "a mapping {after, code, reason}")
    if inner is None:
        return None
    if not inner.has("after"):
        raise reader.error("disconnect", f"missing required key 'after' ({_AFTER_HINT})")
    fault = DisconnectFault(
        after=_trigger(inner, "after"),
        code=_close_code(inner, "code", None),
        reason=_reason(inner),
    )
    inner.finish(_DISCONNECT_KEYS)
    return fault


def _refuse(reader: KeyReader) -> RefuseFault | None:
    value = reader.raw("refuse")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"next": value}
    what = "a number of handshakes or a mapping {next, status}"
    inner = KeyReader(value, reader.path("refuse"), reader.source, what)
    if not inner.has("next"):
        raise reader.error("refuse", "missing required key 'next' (how many handshakes to refuse)")
    fault = RefuseFault(
        next=inner.integer("next", 0, unit=" of handshakes"),
        status=inner.integer("status", 503, minimum=400, maximum=599, unit=" (an HTTP status)"),
    )
    inner.finish(_REFUSE_KEYS)
    return fault if fault.next else None


def _stall(reader: KeyReader) -> Trigger | None:
    value = reader.raw("stall")
    if value is None or value is False:
        return None
    if value is True:
        return Trigger(seconds=0.0)
    inner = reader.child("stall", "true or a mapping {after}")
    assert inner is not None
    if not inner.has("after"):
        raise reader.error("stall", f"missing required key 'after' ({_AFTER_HINT})")
    trigger = _trigger(inner, "after")
    inner.finish(_STALL_KEYS)
    return trigger


def _seed(reader: KeyReader) -> int | None:
    if reader.raw("seed") is None:
        return None
    return reader.integer("seed", 0, minimum=-(2**63), unit=" (the random seed)")


def _read(reader: KeyReader) -> FaultsConfig:
    faults = FaultsConfig(
        latency=_latency(reader),
        drop=_probability(reader, "drop"),
        disconnect=_disconnect(reader),
        refuse=_refuse(reader),
        stall=_stall(reader),
        seed=_seed(reader),
    )
    reader.finish(FAULT_KEYS)
    return faults


def parse_faults(section: KeyReader) -> FaultsConfig | None:
    """Read an endpoint's ``faults`` key; None when it is unset or names no fault."""
    value = section.raw("faults")
    if value is None:
        return None
    faults = _read(KeyReader(value, section.path("faults"), section.source, "a mapping of faults"))
    return faults if faults != FaultsConfig(seed=faults.seed) else None


def faults_from_data(data: object, key: str = "faults") -> FaultsConfig | None:
    """Validate faults given at run time (a parsed JSON object, or a dict); None for none.

    Raises:
        ConfigError: A key is unknown or a value is wrong; the message names the key.
    """
    if data is None:
        return None
    faults = _read(KeyReader(data, key, SourceMap(), "a mapping of faults"))
    return faults if faults != FaultsConfig(seed=faults.seed) else None


def connection_fault_from_data(data: object, key: str = "fault") -> ConnectionFault:
    """Validate one connection's run-time fault: ``{"abort": true}``, ``{"latency": "200ms"}``...

    Raises:
        ConfigError: A key is unknown, a value is wrong, nothing is asked,
            or ``abort`` and ``close`` are asked together.
    """
    reader = KeyReader(data, key, SourceMap(), "a mapping of faults")
    close = None
    close_data = reader.raw("close")
    if close_data is not None:
        if isinstance(close_data, int) and not isinstance(close_data, bool):
            close_data = {"code": close_data}
        inner = KeyReader(
            close_data, reader.path("close"), reader.source, "a mapping {code, reason}"
        )
        code = _close_code(inner, "code", _NORMAL_CLOSE)
        if code is None:
            raise inner.error("code", "to abort, send {'abort': true}")
        close = (code, _reason(inner))
        inner.finish(("code", "reason"))
    latency = None
    if reader.has("latency"):
        latency = reader.duration_range("latency") or DurationRange(0.0, 0.0)
    fault = ConnectionFault(
        abort=reader.boolean("abort", False),
        stall=reader.boolean("stall", False),
        close=close,
        latency=latency,
        drop=_probability(reader, "drop") if reader.has("drop") else None,
    )
    reader.finish(CONNECTION_FAULT_KEYS)
    if fault == ConnectionFault():
        raise reader.source.error(
            key, f"name a fault: one or more of {', '.join(CONNECTION_FAULT_KEYS)}"
        )
    if fault.abort and fault.close is not None:
        raise reader.error(
            "abort", "abort and close exclude each other: an abort sends no close frame"
        )
    return fault
