"""The running form of each configured endpoint, and loading them from a config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..auth.base import Authenticator
from ..auth.build import build_authenticator
from ..config.model import Config, EndpointConfig, JwtConfig
from ..errors import HandlerError, MockwsError
from ..hooks.loader import NO_HANDLER, HandlerSlot, load_handler
from ..hooks.pipeline import Stage, handler_stage
from ..hooks.proxy import ProxyRoute
from ..hooks.replay import Replay, load_replay
from ..hooks.rules import RuleBook, close_steps, unmatched_stage
from ..hooks.timer import HookTimer
from ..hub.connection import Connection
from ..hub.faults import EndpointFaults
from ..hub.sio_connection import SioConnection
from ..observe.recording import Recorder, RecordingError
from ..observe.redact import SECRET_QUERY_PARAMS, mask_query
from ..wire.close import CloseCode

if TYPE_CHECKING:
    from ..hooks.spec_mock import SpecRuntime
from . import aiohttp_compat as compat

__all__ = ["Endpoint", "load_endpoints"]


@dataclass(eq=False)
class Endpoint:
    """An endpoint's validated config, its loaded handler and its message pipeline.

    Attributes:
        config: The endpoint's settings.
        handler: The handler module, swapped in place on reload; an empty
            slot (no hooks) when the endpoint has no handler.
        auth: Decides whether an upgrade may connect; None accepts all.
        stages: What each incoming message passes through, in order; by
            default the AsyncAPI stages (if any), the rules (if any), then the
            handler's ``on_message``.
        rules: The endpoint's declarative behaviour (rules, on_connect,
            every, script), shared by every version of the endpoint's
            pattern across reloads; None when it declares none.
        spec: What the endpoint's AsyncAPI channel runs (validation,
            pushes, replies, the handshake check); None without one.
        faults: The endpoint's network faults as they stand (from
            ``config.faults``, or set at run time until the next config edit).
    """

    config: EndpointConfig
    handler: HandlerSlot
    auth: Authenticator | None = None
    stages: tuple[Stage, ...] = field(default=())
    proxy: ProxyRoute | None = None
    replay: Replay | None = None
    recorder: Recorder | None = None
    rules: RuleBook | None = None
    spec: SpecRuntime | None = None
    faults: EndpointFaults = field(init=False)
    upstream_rules: RuleBook | None = None

    def __post_init__(self) -> None:
        if not self.stages:
            self.stages = self._default_stages()
        self.faults = EndpointFaults(self.config.pattern, self.config.faults, _stall)

    def _default_stages(self) -> tuple[Stage, ...]:
        # The spec checks (and answers) first, so rules and the rest see what it passed.
        first: tuple[Stage, ...] = self.spec.stages if self.spec is not None else ()
        if self.rules is not None:
            first = (*first, self.rules.stage)
        if self.proxy is not None:
            # No rule handled it: the message goes upstream as it arrived.
            return (*first, self.proxy.forward)
        if self.replay is not None and self.replay.config.mode == "reactive":
            first = (*first, self.replay.stage)
        if self.rules is not None and self.handler.is_empty:
            return (*first, unmatched_stage(self.rules))
        return (*first, handler_stage(self.handler))

    @property
    def pattern(self) -> str:
        """The endpoint's URL pattern as configured."""
        return self.config.pattern

    @property
    def summary(self) -> str:
        """What serves this endpoint, in a few words (for ``serve`` and ``check``)."""
        settings = self.config
        parts = []
        if settings.proxy is not None:
            parts.append(f"proxy {mask_query(settings.proxy.url)}")
        if settings.replay is not None:
            parts.append(f"replay {settings.replay.file.name} ({settings.replay.mode})")
        if settings.behaviour is not None and self.handler.is_empty:
            parts.append("rules only")
        if not self.handler.is_empty or not parts:
            parts.append(self.handler.spec)
        if settings.record is not None:
            parts.append(f"recording to {settings.record.path}")
        return ", ".join(parts)

    @property
    def modules(self) -> tuple[HandlerSlot, ...]:
        """The user modules this endpoint runs: its handler, and an authenticate module."""
        auth_slot = self.auth.slot if self.auth is not None else None
        if auth_slot is None or auth_slot is self.handler:
            return (self.handler,)
        return (self.handler, auth_slot)

    @property
    def secret_param(self) -> str | None:
        """The query parameter this endpoint's authentication reads a secret from, if any."""
        return self.auth.query_param if self.auth is not None else None

    def mask(self, path_qs: str) -> str:
        """Return ``path_qs`` with secret query values masked, this endpoint's token included."""
        names: frozenset[str] = SECRET_QUERY_PARAMS
        if self.secret_param:
            names = names | {self.secret_param}
        return mask_query(path_qs, names)


def _stall(conn: Connection) -> None:
    if isinstance(conn, SioConnection):
        # Engine.IO answers the client's heartbeat itself: a stall would not be seen.
        raise ValueError("stall is not available on Socket.IO connections")
    compat.stall_socket(conn.socket)


def load_endpoints(
    config: Config,
    slots: dict[str, HandlerSlot] | None = None,
    timer: HookTimer | None = None,
    books: dict[str, RuleBook] | None = None,
) -> list[Endpoint]:
    """Import every endpoint's handler and return the endpoints in config order.

    Endpoints naming the same module share one :class:`HandlerSlot`, and
    endpoints without a handler share one empty slot (kept in ``slots``
    under :data:`~mockws.hooks.loader.NO_HANDLER`, so a reload keeps it).

    Args:
        config: A validated config.
        slots: Modules already loaded, by name; new ones are added to it.
        timer: Times the hooks of newly loaded modules (default: one with
            the config's ``limits.slow_hook_warning``).
        books: The running endpoints' rule books, by pattern; new ones are
            added to it. Once every endpoint has loaded, each book is given
            its endpoint's new rules (so open connections use them).

    Raises:
        ConfigError: A handler cannot be imported; the error names the
            config key and, after it, the handler's own file and line.
    """
    slots = {} if slots is None else slots
    books = {} if books is None else books
    timer = timer if timer is not None else HookTimer(config.limits.slow_hook_warning)
    endpoints = []
    for endpoint_config in config.endpoints:
        _check_close_codes(config, endpoint_config)
        slot = _handler_slot(config, endpoint_config, slots, timer)
        try:
            auth = build_authenticator(endpoint_config, slot, slots, config.base_dir)
        except MockwsError as exc:
            key = f"{config.endpoint_key(endpoint_config)}.authenticate"
            if isinstance(endpoint_config.authenticate, JwtConfig):
                key += ".jwt"
            raise config.error(key, str(exc)) from None
        book = None
        if endpoint_config.behaviour is not None:
            book = books.setdefault(endpoint_config.pattern, RuleBook(endpoint_config.pattern))
        try:
            endpoints.append(
                Endpoint(
                    endpoint_config,
                    slot,
                    auth,
                    rules=book,
                    spec=_spec(endpoint_config),
                    proxy=ProxyRoute(endpoint_config.proxy) if endpoint_config.proxy else None,
                    replay=_replay(config, endpoint_config),
                    recorder=_recorder(endpoint_config),
                    upstream_rules=_upstream_book(endpoint_config, books),
                )
            )
        except ValueError as exc:
            key = f"{config.endpoint_key(endpoint_config)}.faults.disconnect.code"
            raise config.error(key, str(exc)) from None
    # Nothing can fail from here on: swap the new rules in.
    for endpoint in endpoints:
        if endpoint.rules is not None:
            endpoint.rules.install(endpoint.config.behaviour)
        if endpoint.upstream_rules is not None:
            endpoint.upstream_rules.install(endpoint.config.upstream_rules)
    return endpoints


def _upstream_book(endpoint: EndpointConfig, books: dict[str, RuleBook]) -> RuleBook | None:
    if endpoint.upstream_rules is None:
        return None
    # Kept beside the client-side books (seq survives a reload), under a key of its own.
    key = f"{endpoint.pattern} upstream"
    return books.setdefault(key, RuleBook(endpoint.pattern))


def _replay(config: Config, endpoint: EndpointConfig) -> Replay | None:
    if endpoint.replay is None:
        return None
    try:
        return load_replay(endpoint.replay)
    except RecordingError as exc:
        raise config.error(f"{config.endpoint_key(endpoint)}.replay.file", str(exc)) from None


def _recorder(endpoint: EndpointConfig) -> Recorder | None:
    record = endpoint.record
    return Recorder(record.path, record.limit) if record is not None else None


def _check_close_codes(config: Config, endpoint: EndpointConfig) -> None:
    if endpoint.behaviour is None:
        return
    for step in close_steps(endpoint.behaviour):
        if not CloseCode.sendable(step.code):
            raise config.error(
                step.code_key,
                f"{step.code} is not a close code that may be sent "
                "(1000-1003, 1007-1014, 3000-4999)",
            )


def _spec(endpoint: EndpointConfig) -> SpecRuntime | None:
    if endpoint.asyncapi is None:
        return None
    # jsonschema and referencing load only for configs with an AsyncAPI document.
    from ..hooks.spec_mock import SpecRuntime

    return SpecRuntime(endpoint.asyncapi)


def _handler_slot(
    config: Config, endpoint: EndpointConfig, slots: dict[str, HandlerSlot], timer: HookTimer
) -> HandlerSlot:
    spec = endpoint.handler
    if spec is None:
        slot = slots.get(NO_HANDLER)
        if slot is None or not slot.is_empty:
            slot = slots[NO_HANDLER] = HandlerSlot.empty(timer)
        return slot
    try:
        module = load_handler(spec, config.base_dir)
    except HandlerError as exc:
        key = f"{config.endpoint_key(endpoint)}.handler"
        raise config.error(key, f"cannot load {spec!r}: {exc}") from None
    slot = slots.get(module.__name__)
    if slot is None:
        slot = slots[module.__name__] = HandlerSlot(spec, module, timer)
    return slot
