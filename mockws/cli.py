"""The ``mockws`` command line: serve and check."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import click

from .config import DEFAULT_CONFIG_NAMES, Config, find_default_config, load_config
from .errors import MockwsError
from .logs import configure_logging
from .loops import LOOP_CHOICES
from .loops import run as run_on_loop
from .server import MockServer, load_endpoints

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
    configure_logging(log_level)
    try:
        run_on_loop(_serve(config), loop_choice)
    except MockwsError as exc:
        _fail(exc)
    except OSError as exc:
        click.echo(
            f"mockws: cannot listen on {config.host}:{config.port}: {exc.strerror}", err=True
        )
        sys.exit(1)


async def _serve(config: Config) -> None:
    server = MockServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    for endpoint in server.endpoints:
        click.echo(f"mockws: {server.url(endpoint.pattern)} -> {endpoint.config.handler}")
    click.echo(f"mockws: ready on {config.host}:{server.port} (Ctrl+C to stop)")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        click.echo("mockws: shutting down")
        await server.stop()


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
