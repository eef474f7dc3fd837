"""Command line and event loop choice shared by the Python peer servers."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["dumps", "parse_args", "ready", "run", "serve_app"]

dumps = json.JSONEncoder(separators=(",", ":")).encode


def parse_args(description: str) -> argparse.Namespace:
    """Parse ``--port`` and ``--loop``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    return parser.parse_args()


def ready(port: int) -> None:
    """Tell the suite the server listens."""
    print(f"READY {port}", flush=True)


async def serve_app(app: Any, port: int) -> None:
    """Serve an aiohttp ``app`` on 127.0.0.1:``port``, say READY, run until cancelled."""
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    ready(port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(main: Callable[[], Coroutine[Any, Any, None]], loop: str) -> None:
    """Run ``main`` on the chosen event loop until SIGTERM or SIGINT."""
    factory = None
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_until_signal(main))
    except KeyboardInterrupt:
        pass
    sys.exit(0)


async def _until_signal(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    task = asyncio.create_task(main())
    await stop.wait()
    task.cancel()
