"""The ``mockws`` command line: serve, check, init, token, send, connections and record."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import socket
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click

from ..admin import attach_admin, inspector_url
from ..config.asyncapi_model import ChannelBinding
from ..config.load import (
    DEFAULT_CONFIG_NAMES,
    config_from_mapping,
    find_default_config,
    load_config,
)
from ..config.model import Config, TlsConfig
from ..config.rules import describe_behaviour
from ..errors import MockwsError, display_path
from ..hooks.loader import HandlerSlot
from ..hooks.sio_events import declared_events
from ..hub.broker import Broker
from ..observe.logging import configure_logging
from ..server.app import MockServer
from ..server.endpoints import load_endpoints
from ..server.handshake import describe_origins
from ..server.http_routes import HttpRoutes, load_http_routes
from ..server.listener import raise_open_files_limit
from .loops import LOOP_CHOICES
from .loops import run as run_on_loop

__all__ = ["main"]


def _fail(error: MockwsError) -> NoReturn:
    """Print a mockws error as it is and exit with its code."""
    click.echo(f"mockws: {error}", err=True)
    sys.exit(error.exit_code)


def _config_path(option: str | None) -> Path:
    if option is not None:
        return Path(option)
    found = find_default_config()
    if found is None:
        raise click.UsageError(
            f"no --config given and none of {', '.join(DEFAULT_CONFIG_NAMES)} in {Path.cwd()}"
        )
    return found


def _load(option: str | None) -> Config:
    try:
        return load_config(_config_path(option))
    except MockwsError as exc:
        _fail(exc)


def _load_spec_only(asyncapi: str) -> Config:
    """The config of ``--asyncapi`` without a config file: the document's channels alone."""
    try:
        return config_from_mapping({"asyncapi": str(Path(asyncapi).resolve())})
    except MockwsError as exc:
        _fail(exc)


def _load_for_serve(config_path: str | None, asyncapi: str | None) -> Config:
    if asyncapi is None:
        return _load(config_path)
    if config_path is not None:
        raise click.UsageError(
            "--asyncapi serves a document without a config; with a config, "
            "set 'asyncapi: FILE' in it instead"
        )
    return _load_spec_only(asyncapi)


asyncapi_option = click.option(
    "--asyncapi",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="An AsyncAPI 3.0/2.6 document whose WebSocket channels to serve (no config needed).",
)

config_option = click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (.yaml, .yml or .py); default mockws.yaml, mockws.yml, then mockws.py.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mockws")
def main() -> None:
    """mockws: a mock WebSocket server for frontend development."""


@main.command()
@config_option
@asyncapi_option
@click.option("--host", help="Address to bind (overrides the config).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option("--reload/--no-reload", default=None, help="Reload handlers when files change.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
)
@click.option("--log-messages", is_flag=True, help="Log one line per message in and out.")
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"], case_sensitive=False),
    help="text: readable lines (coloured on a terminal); json: one JSON object per line.",
)
@click.option(
    "--tls",
    is_flag=True,
    help="Serve wss:// and https:// with a localhost certificate from a local CA "
    "(kept in ~/.cache/mockws/); the config's tls: {cert, key} wins when set.",
)
@click.option(
    "--loop",
    "loop_choice",
    default="auto",
    show_default=True,
    type=click.Choice(LOOP_CHOICES),
    help="Event loop; auto uses uvloop when installed (pip install 'mockws[speed]').",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Processes sharing the port (SO_REUSEPORT, Linux); more than 1 needs `broker:`.",
)
@click.option("--worker", "worker_index", type=int, hidden=True)
def serve(
    config_path: str | None,
    asyncapi: str | None,
    host: str | None,
    port: int | None,
    reload: bool | None,
    log_level: str,
    log_messages: bool,
    log_format: str,
    tls: bool,
    loop_choice: str,
    workers: int,
    worker_index: int | None,
) -> None:
    """Serve the config's endpoints until interrupted."""
    config = _load_for_serve(config_path, asyncapi)
    if (workers > 1 or worker_index is not None) and config.broker is None:
        raise click.UsageError(
            f"--workers {workers} needs a broker the workers share rooms through: add"
            f" `broker: redis://127.0.0.1:6379/0` to {config.source or 'the config'}"
            " (without one, each worker would have rooms of its own)"
        )
    if workers > 1 and not hasattr(socket, "SO_REUSEPORT"):
        raise click.UsageError("--workers needs SO_REUSEPORT, which this system lacks (Linux)")
    config = replace(
        config,
        host=config.host if host is None else host,
        port=config.port if port is None else port,
        reload=config.reload if reload is None else reload,
    )
    if tls and config.tls is None:
        config = replace(config, tls=_local_tls())
    if not config.endpoints:
        click.echo(f"mockws: warning: {_no_endpoints_warning(config)}", err=True)
    configure_logging(log_level, log_format.lower())
    if workers > 1:
        options = ["--log-level", log_level, "--log-format", log_format, "--loop", loop_choice]
        if log_messages:
            options.append("--log-messages")
        sys.exit(_serve_workers(config, workers, options))
    try:
        run_on_loop(_serve(config, log_messages, worker_index), loop_choice)
    except MockwsError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(
            f"mockws: cannot listen on {config.host}:{config.port}: {exc.strerror}", err=True
        )
        sys.exit(1)


def _local_tls() -> TlsConfig:
    """Make or reuse the local CA's localhost certificate; say where the CA is."""
    from ..server.tls import local_certificate  # trustme loads only for --tls

    try:
        local = local_certificate()
    except OSError as exc:
        click.echo(f"mockws: cannot write the local certificate: {exc}", err=True)
        sys.exit(1)
    made = "made" if local.created else "reusing"
    click.echo(
        f"mockws: TLS: {made} a localhost certificate from the local CA {local.ca} "
        "(trust that file once as an authority in your browser or OS to skip the warning; "
        "see docs/tls.md)"
    )
    return local.tls


def _no_endpoints_warning(config: Config) -> str:
    where = display_path(config.source) if config.source else "the config"
    return f"{where} has no endpoints: every WebSocket gets 404 (add some under 'endpoints:')"


def _serve_workers(config: Config, workers: int, options: list[str]) -> int:
    """Run ``workers`` processes of ``mockws serve`` on one port; return the exit code."""
    from .workers import reserve_port, supervise  # loads only for --workers

    try:
        reserved = reserve_port(config.host, config.port)
    except OSError as exc:
        click.echo(
            f"mockws: cannot listen on {config.host}:{config.port}: {exc.strerror}", err=True
        )
        return 1
    port = reserved.getsockname()[1]
    assert config.source is not None
    command = [
        sys.executable,
        "-m",
        "mockws",
        "serve",
        "--config",
        str(config.source.resolve()),
        "--host",
        config.host,
        "--port",
        str(port),
        "--reload" if config.reload else "--no-reload",
        *options,
    ]
    ready = f"mockws: ready on {config.host}:{port} with {workers} workers (Ctrl+C to stop)"
    try:
        return asyncio.run(supervise(command, workers, ready))
    finally:
        reserved.close()


def _worker_broker(config: Config, worker_index: int | None) -> Broker | None:
    """The broker of worker ``worker_index`` (named after it), or None for the config's own."""
    if worker_index is None or config.broker is None:
        return None
    from ..hub.redis_broker import RedisBroker  # redis loads only for a broker config

    return RedisBroker.from_config(config.broker, node=f"w{worker_index}-{secrets.token_hex(2)}")


async def _serve(config: Config, log_messages: bool = False, worker: int | None = None) -> None:
    raise_open_files_limit()
    server = MockServer(
        config,
        log_messages=log_messages,
        broker=_worker_broker(config, worker),
        reuse_port=worker is not None,
    )
    attach_admin(server)
    if config.reload:
        from ..reload.reloader import attach_reloader  # watchfiles loads only when reloading

        attach_reloader(server)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    for endpoint in server.endpoints:
        faults = endpoint.faults.describe()
        injected = f" (faults: {faults})" if faults else ""
        kind = ""
        if endpoint.config.socketio:
            kind = f" (socket.io, namespaces {', '.join(endpoint.config.namespaces)})"
        click.echo(f"mockws: {server.url(endpoint.pattern)}{kind} -> {endpoint.summary}{injected}")
        if endpoint.config.asyncapi is not None:
            click.echo(f"mockws:   {_describe_binding(endpoint.config.asyncapi)}")
    for route in server.http.routes:
        click.echo(f"mockws: {route.method} {server.route_url(route)} -> {route.describe()}")
    inspector = inspector_url(server)
    if inspector is not None:
        click.echo(f"mockws: inspector at {inspector}")
    click.echo(f"mockws: ready on {config.host}:{server.port} (Ctrl+C to stop)")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        click.echo("mockws: shutting down (Ctrl+C again to exit at once)")
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, _exit_now, signum)
        await server.stop()


def _exit_now(signum: int) -> None:
    """A second Ctrl+C (or SIGTERM) while shutting down: leave without waiting for anything."""
    click.echo("mockws: exiting now", err=True)
    sys.stdout.flush()
    # The signal's default action ends the process at once, as an unhandled Ctrl+C would.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@main.command()
@click.argument("url")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The JSON Lines file to record into (appended to).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=0, help="Port to listen on; default a free one.")
@click.option("--log-level", default="info", show_default=True, help="Log level.")
def record(url: str, out: Path, host: str, port: int, log_level: str) -> None:
    """Proxy URL on a local port and record every frame into --out, no config needed.

    Connect your app to the printed ws:// URL instead of URL; stop with Ctrl+C.
    Replay the file later with an endpoint's `replay: FILE`.
    """
    from .record import record_config  # loads only for this command (startup)

    try:
        config = record_config(url, out, host, port)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="URL") from None
    except MockwsError as exc:
        _fail(exc)
    configure_logging(log_level, "text")
    try:
        run_on_loop(_serve(config), "auto")
    except OSError as exc:
        click.echo(f"mockws: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        sys.exit(1)


@main.command()
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--rules", is_flag=True, help="Write a starter that uses only YAML rules, no Python.")
def init(folder: Path, rules: bool) -> None:
    """Write a starter mockws.yaml and handlers/app.py into FOLDER (default: here)."""
    from .init import write_starter  # loads only for this command (startup)

    try:
        written = write_starter(folder, rules=rules)
    except MockwsError as exc:
        _fail(exc)
    for path in written:
        click.echo(f"mockws: wrote {path}")
    here = folder.resolve() == Path.cwd().resolve()
    command = "mockws serve" if here else f"cd {shlex.quote(str(folder))} && mockws serve"
    click.echo(f"\nNext: {command}")
    click.echo('Then, in a browser console: new WebSocket("ws://127.0.0.1:8765/ws")')
    click.echo("and watch it live at http://127.0.0.1:8765/__mockws/")


def _describe_binding(binding: ChannelBinding) -> str:
    channel = binding.channel
    role = "plays" if binding.play else "checks"
    return f"{role} AsyncAPI channel {channel.name} ({channel.where}), validate: {binding.validate}"


@main.command()
@config_option
@asyncapi_option
def check(config_path: str | None, asyncapi: str | None) -> None:
    """Validate the config, import every handler, and print the route table.

    With --asyncapi FILE (and no --config), validate the AsyncAPI document:
    list its channels, operations and problems.
    """
    if asyncapi is not None:
        if config_path is not None:
            raise click.UsageError("give --config or --asyncapi, not both")
        from .asyncapi import check_document  # loads the AsyncAPI libraries for this command only

        sys.exit(check_document(Path(asyncapi)))
    config = _load(config_path)
    try:
        slots: dict[str, HandlerSlot] = {}
        endpoints = load_endpoints(config, slots)
        routes = load_http_routes(config, slots)
    except MockwsError as exc:
        _fail(exc)
    prefix = config.prefix
    width = max((len(prefix + endpoint.pattern) for endpoint in endpoints), default=0)
    scheme = "wss" if config.tls is not None else "ws"
    http = f", {len(routes)} HTTP route(s)" if routes else ""
    click.echo(
        f"{display_path(config.source)}: {len(endpoints)} endpoint(s){http}, "
        f"serve would bind {config.host}:{config.port} ({scheme}://)"
    )
    click.echo(f"  origins: {describe_origins(config.allowed_origins)}")
    if not endpoints:
        click.echo(f"mockws: warning: {_no_endpoints_warning(config)}", err=True)
    for endpoint in endpoints:
        hooks = [
            name
            for name in ("on_connect", "on_message", "on_close", "on_error", "background")
            if endpoint.handler.hook(name)
        ]
        if endpoint.config.socketio:
            hooks = [name for name in hooks if name != "on_message"]
            hooks += [f"event {name!r}" for name in declared_events(endpoint.handler)]
        faults = endpoint.faults.describe()
        click.echo(
            f"  {prefix + endpoint.pattern:<{width}}  {endpoint.summary}"
            f"  [{', '.join(hooks) or 'no hooks'}]" + (f"  faults: {faults}" if faults else "")
        )
        behaviour = endpoint.config.behaviour
        if behaviour is not None:
            for line in describe_behaviour(behaviour, display_path(config.source)):
                click.echo(f"      {line}")
        if endpoint.config.asyncapi is not None:
            click.echo(f"  {'':<{width}}  {_describe_binding(endpoint.config.asyncapi)}")
    for problem in dict.fromkeys(
        problem
        for endpoint in endpoints
        if endpoint.config.asyncapi is not None
        for problem in endpoint.config.asyncapi.channel.document.problems
    ):
        click.echo(f"  warning: {problem}")
    _echo_routes(routes)
    if config.broker is not None:
        _check_broker(config)


def _echo_routes(routes: HttpRoutes) -> None:
    shown = routes.shown()
    width = max((len(line) for line in shown), default=0)
    for line, route in zip(shown, routes, strict=True):
        click.echo(f"  {line:<{width}}  {route.describe()}")


def _check_broker(config: Config) -> None:
    """Print whether the config's broker answers; exit 1 when it does not."""
    from ..config.broker import mask_broker_url
    from ..hub.redis_broker import probe  # redis loads only for a broker config

    assert config.broker is not None
    shown = mask_broker_url(config.broker.url)
    try:
        answer = asyncio.run(probe(config.broker.url))
    except MockwsError as exc:
        click.echo(f"  broker {shown}: does not answer ({exc})", err=True)
        sys.exit(exc.exit_code)
    click.echo(f"  broker {shown}: answers ({answer})")


@main.command()
@config_option
@click.option(
    "--endpoint",
    "wanted",
    required=True,
    metavar="PATTERN",
    help="The endpoint's pattern as in the config, or a path it matches (/ws/rooms/lobby).",
)
@click.option("--sub", help="The sub claim; the server makes it conn.user_id.")
@click.option(
    "--claim",
    "claim_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An extra claim (repeatable); VALUE is read as JSON when it parses (true, 3, [...]).",
)
@click.option(
    "--ttl", default="1h", show_default=True, help="Lifetime: 90, 30s, 15m, 1h, 7d or none."
)
@click.option(
    "--private-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key; needed when the endpoint verifies with a public_key.",
)
@click.option("--algorithm", help="One of the endpoint's algorithms; default the first.")
def token(
    config_path: str | None,
    wanted: str,
    sub: str | None,
    claim_pairs: tuple[str, ...],
    ttl: str,
    private_key: Path | None,
    algorithm: str | None,
) -> None:
    """Print a token the endpoint accepts, then the ws:// URL that carries it."""
    from .token import find_jwt_endpoint, parse_claims, parse_ttl, token_url  # startup

    try:
        lifetime = parse_ttl(ttl)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--ttl") from None
    try:
        claims = parse_claims(claim_pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--claim") from None
    if sub is not None:
        claims["sub"] = sub
    config = _load(config_path)
    try:
        _, settings, path = find_jwt_endpoint(config, wanted)
        from ..auth.jwt import sign_token  # PyJWT loads only for this command

        signed = sign_token(
            settings, claims, ttl=lifetime, private_key=private_key, algorithm=algorithm
        )
    except MockwsError as exc:
        _fail(exc)
    click.echo(signed)
    click.echo(token_url(config, path, settings.query_param, signed))


def _remote_config(config_path: str | None) -> Config | None:
    """The config whose server ``send``/``connections`` talk to; None when there is none."""
    if config_path is None and find_default_config() is None:
        return None
    return _load(config_path)


url_option = click.option(
    "--url",
    metavar="URL",
    help="The running server, http(s)://host:port; default the config's host and port.",
)


@main.command()
@config_option
@url_option
@click.option(
    "--room", "rooms", multiple=True, metavar="R", help="Every member of room R (repeatable)."
)
@click.option("--conn", "conn_id", metavar="ID", help="One connection, by its id (c3).")
@click.option("--user", "user_id", metavar="U", help="Every connection of user U.")
@click.option("--endpoint", "endpoint", metavar="P", help="Every connection of endpoint pattern P.")
@click.argument("payload", metavar="JSON")
def send(
    config_path: str | None,
    url: str | None,
    rooms: tuple[str, ...],
    conn_id: str | None,
    user_id: str | None,
    endpoint: str | None,
    payload: str,
) -> None:
    """Push JSON (- reads stdin) through a running server's admin API; everyone without a target.

    Exit codes: 0 sent, 1 server not reachable, 2 usage or refused.
    """
    from .remote import AdminClient, RemoteError, Target, admin_token, default_url, parse_payload

    chosen = [
        name
        for name, value in (
            ("--room", rooms),
            ("--conn", conn_id),
            ("--user", user_id),
            ("--endpoint", endpoint),
        )
        if value
    ]
    if len(chosen) > 1:
        raise click.UsageError(
            f"give at most one of --room, --conn, --user, --endpoint (got {', '.join(chosen)})"
        )
    text = sys.stdin.read() if payload == "-" else payload
    try:
        data = parse_payload(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="JSON") from None
    config = _remote_config(config_path)
    client = AdminClient(url or default_url(config), admin_token(config), config)
    target = Target(room=rooms, conn=conn_id, user=user_id, endpoint=endpoint)
    try:
        click.echo(f"mockws: {client.send(target, data)}")
    except RemoteError as exc:
        click.echo(f"mockws: {exc}", err=True)
        sys.exit(exc.exit_code)


@main.command()
@config_option
@url_option
@click.option("--json", "as_json", is_flag=True, help="Print the admin API's JSON as it is.")
def connections(config_path: str | None, url: str | None, as_json: bool) -> None:
    """List a running server's open connections.

    Exit codes: 0 listed, 1 server not reachable, 2 usage or refused.
    """
    import json

    from .remote import AdminClient, RemoteError, admin_token, default_url, format_connections

    config = _remote_config(config_path)
    client = AdminClient(url or default_url(config), admin_token(config), config)
    try:
        listed = client.connections()
    except RemoteError as exc:
        click.echo(f"mockws: {exc}", err=True)
        sys.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps({"connections": listed}, indent=2, ensure_ascii=False))
        return
    if not listed:
        click.echo("mockws: no open connections")
        return
    for line in format_connections(listed):
        click.echo(line)
