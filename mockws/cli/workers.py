"""``mockws serve --workers N``: N server processes on one port, kept running.

The parent binds the port first (with SO_REUSEPORT, without listening, so
that it takes no connections; this also resolves port 0 to one free port),
then starts N ``mockws serve --worker I`` processes that bind the same port
with SO_REUSEPORT and share rooms through the config's broker. Linux
spreads new connections over the listening workers; each has its own event
loop. The parent relays the first worker's start-up lines, prints one
ready line when every worker is ready, restarts a worker that dies (and
logs it), and on Ctrl+C or SIGTERM stops every worker, each of which closes
its clients with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import click

__all__ = ["READY_TIMEOUT", "STOP_TIMEOUT", "Supervisor", "reserve_port"]

log = logging.getLogger("mockws.workers")

READY_TIMEOUT = 30.0
# A worker closes its clients within the server's shutdown grace (5 s), then exits.
STOP_TIMEOUT = 10.0
_RESTART_DELAY_MAX = 10.0
# A worker that ran shorter than this before dying counts as a crash loop.
_HEALTHY_RUN = 5.0
_PR_SET_PDEATHSIG = 1


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind ``host``:``port`` with SO_REUSEPORT, without listening; return the socket.

    Raises:
        OSError: The address cannot be bound (in use without SO_REUSEPORT).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    # Linux: a worker gets SIGTERM when the parent dies, even by SIGKILL.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    crashes: int = 0


class Supervisor:
    """Runs ``count`` worker processes of ``command`` until told to stop.

    Args:
        command: The worker's command line without ``--worker I``.
        count: How many workers.
    """

    def __init__(self, command: Sequence[str], count: int) -> None:
        self.command = list(command)
        self.count = count
        self.workers = [_Worker(index) for index in range(1, count + 1)]
        self._stopping = asyncio.Event()
        self._relay = True

    def stop(self) -> None:
        """Begin stopping every worker (a signal handler)."""
        self._stopping.set()

    async def _spawn(self, worker: _Worker) -> None:
        worker.ready = asyncio.Event()
        worker.started = time.monotonic()
        worker.process = await asyncio.create_subprocess_exec(
            *self.command,
            "--worker",
            str(worker.index),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        asyncio.create_task(self._read(worker, worker.process))

    async def _read(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if "ready on" in line:
                worker.ready.set()
            elif self._relay and worker.index == 1 and not worker.ready.is_set():
                click.echo(line)

    async def run(self, ready_line: str) -> int:
        """Start the workers, print ``ready_line`` once all are ready, and supervise them.

        Returns:
            The exit code: 0 after a stop, 1 when the workers could not start.
        """
        for worker in self.workers:
            await self._spawn(worker)
        if not await self._all_ready():
            await self._stop_all()
            click.echo("mockws: the workers did not start (see their errors above)", err=True)
            return 1
        self._relay = False
        click.echo(ready_line)
        sys.stdout.flush()
        watchers = {asyncio.create_task(self._watch(worker)) for worker in self.workers}
        await self._stopping.wait()
        click.echo("mockws: shutting down")
        await self._stop_all()
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        return 0

    async def _all_ready(self) -> bool:
        async def ready_or_dead(worker: _Worker) -> bool:
            assert worker.process is not None
            waits = [
                asyncio.create_task(worker.ready.wait()),
                asyncio.create_task(worker.process.wait()),
                asyncio.create_task(self._stopping.wait()),
            ]
            done, pending = await asyncio.wait(
                waits, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            return worker.ready.is_set()

        results = await asyncio.gather(*(ready_or_dead(worker) for worker in self.workers))
        return all(results) and not self._stopping.is_set()

    async def _watch(self, worker: _Worker) -> None:
        while not self._stopping.is_set():
            process = worker.process
            assert process is not None
            code = await process.wait()
            if self._stopping.is_set():
                return
            ran = time.monotonic() - worker.started
            worker.crashes = worker.crashes + 1 if ran < _HEALTHY_RUN else 0
            delay = min(_RESTART_DELAY_MAX, 0.5 * (2**worker.crashes - 1))
            log.warning(
                "worker %d (pid %d) exited with %s after %.1fs; restarting%s",
                worker.index,
                process.pid,
                _exit_text(code),
                ran,
                f" in {delay:.1f}s" if delay else "",
            )
            if delay:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._stopping.wait()
                if self._stopping.is_set():
                    return
            await self._spawn(worker)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(READY_TIMEOUT):
                    await worker.ready.wait()
            if worker.ready.is_set() and worker.process is not None:
                log.warning("worker %d is back (pid %d)", worker.index, worker.process.pid)

    async def _stop_all(self) -> None:
        live = [w.process for w in self.workers if w.process and w.process.returncode is None]
        for process in live:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if not live:
            return
        _, pending = await asyncio.wait(
            [asyncio.create_task(process.wait()) for process in live], timeout=STOP_TIMEOUT
        )
        if pending:
            for process in live:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.gather(*(process.wait() for process in live))


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"


async def supervise(command: Sequence[str], count: int, ready_line: str) -> int:
    """Run ``count`` workers of ``command`` until SIGINT or SIGTERM; return the exit code."""
    supervisor = Supervisor(command, count)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, supervisor.stop)
    return await supervisor.run(ready_line)
