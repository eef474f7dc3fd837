"""The ``mockws`` command line: serve, check, init and token."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click

from ..admin import attach_admin, inspector_url
from ..config.load import DEFAULT_CONFIG_NAMES, find_default_config, load_config
from ..config.model import Config
from ..errors import MockwsError
from ..observe.logging import configure_logging
from ..server.app import MockServer
from ..server.endpoints import load_endpoints
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
    "--loop",
    "loop_choice",
    default="auto",
    show_default=True,
    type=click.Choice(LOOP_CHOICES),
    help="Event loop; auto uses uvloop when installed (pip install 'mockws[speed]').",
)
def serve(
    config_path: str | None,
    host: str | None,
    port: int | None,
    reload: bool | None,
    log_level: str,
    log_messages: bool,
    log_format: str,
    loop_choice: str,
) -> None:
    """Serve the config's endpoints until interrupted."""
    config = _load(config_path)
    config = replace(
        config,
        host=config.host if host is None else host,
        port=config.port if port is None else port,
        reload=config.reload if reload is None else reload,
    )
    configure_logging(log_level, log_format.lower())
    try:
        run_on_loop(_serve(config, log_messages), loop_choice)
    except MockwsError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(
            f"mockws: cannot listen on {config.host}:{config.port}: {exc.strerror}", err=True
        )
        sys.exit(1)


async def _serve(config: Config, log_messages: bool = False) -> None:
    raise_open_files_limit()
    server = MockServer(config, log_messages=log_messages)
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
        click.echo(f"mockws: {server.url(endpoint.pattern)} -> {endpoint.config.handler}")
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
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
def init(folder: Path) -> None:
    """Write a starter mockws.yaml and handlers/app.py into FOLDER (default: here)."""
    from .init import write_starter  # loads only for this command (startup)

    try:
        written = write_starter(folder)
    except MockwsError as exc:
        _fail(exc)
    for path in written:
        click.echo(f"mockws: wrote {path}")
    here = folder.resolve() == Path.cwd().resolve()
    command = "mockws serve" if here else f"cd {shlex.quote(str(folder))} && mockws serve"
    click.echo(f"\nNext: {command}")
    click.echo('Then, in a browser console: new WebSocket("ws://127.0.0.1:8765/ws")')
    click.echo("and watch it live at http://127.0.0.1:8765/__mockws/")


@main.command()
@config_option
def check(config_path: str | None) -> None:
    """Validate the config, import every handler, and print the route table."""
    config = _load(config_path)
    try:
        endpoints = load_endpoints(config)
    except MockwsError as exc:
        _fail(exc)
    prefix = config.prefix
    width = max((len(prefix + endpoint.pattern) for endpoint in endpoints), default=0)
    click.echo(
        f"{config.source}: {len(endpoints)} endpoint(s), listening on {config.host}:{config.port}"
    )
    for endpoint in endpoints:
        hooks = [
            name
            for name in ("on_connect", "on_message", "on_close", "on_error", "background")
            if endpoint.handler.hook(name)
        ]
        click.echo(
            f"  {prefix + endpoint.pattern:<{width}}  {endpoint.config.handler}"
            f"  [{', '.join(hooks) or 'no hooks'}]"
        )


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
