"""The servers under test, and starting one as a separate process.

Each :class:`Peer` knows its command line and its ready line; the suite
starts it with :class:`ServerProcess`, measures it from outside through
/proc, and stops it. A peer that cannot run here (Node absent, npm packages
not installed, uvloop missing) says why in :attr:`Peer.missing`, and the
suite skips it with that note.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BENCH_DIR", "NODE_DIR", "Peer", "ServerProcess", "all_peers", "free_port"]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
NODE_DIR = BENCH_DIR / "node"
HANDLERS = BENCH_DIR / "servers"
JWT_SECRET = "benchmark-secret-not-for-production"


def free_port() -> int:
    """Return a TCP port that is free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _node_missing(*packages: str) -> str | None:
    if shutil.which("node") is None:
        return "Node.js is not installed"
    for package in packages:
        if not (NODE_DIR / "node_modules" / package / "package.json").is_file():
            return f"npm package {package} missing: npm install --prefix benchmarks/node"
    return None


@dataclass(frozen=True)
class Peer:
    """One server the suite measures.

    Attributes:
        name: Short name used in tables and charts.
        argv: Command line; ``{port}`` and ``{config}`` are filled in.
        ready: Pattern of the stdout line printed once it listens.
        description: What it is, for the docs table.
        loop: The event loop it runs on ("asyncio", "uvloop", or "node").
        cwd: Folder to start it in.
        missing: Why it cannot run here, or None when it can.
    """

    name: str
    argv: tuple[str, ...]
    ready: str
    description: str
    loop: str = "asyncio"
    cwd: Path = ROOT
    missing: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def is_mockws(self) -> bool:
        """True for mockws itself, on any loop."""
        return self.name.startswith("mockws")

    def command(self, port: int, config: Path | None = None) -> list[str]:
        """Return the command line that serves on ``port``."""
        return [part.format(port=port, config=config) for part in self.argv]


def _mockws(loop: str, missing: str | None) -> Peer:
    return Peer(
        name="mockws" if loop == "asyncio" else f"mockws+{loop}",
        argv=(
            sys.executable,
            "-m",
            "mockws",
            "serve",
            "--config",
            "{config}",
            "--port",
            "{port}",
            "--no-reload",
            "--log-level",
            "warning",
            "--loop",
            loop,
        ),
        ready=r"ready on",
        description=f"mockws serve, handlers in Python, {loop} loop",
        loop=loop,
        missing=missing,
    )


def _python_peer(name: str, module: str, loop: str, description: str, missing: str | None) -> Peer:
    return Peer(
        name=name if loop == "asyncio" else f"{name}+{loop}",
        argv=(
            sys.executable,
            "-m",
            f"benchmarks.servers.{module}",
            "--port",
            "{port}",
            "--loop",
            loop,
        ),
        ready=r"^READY",
        description=description,
        loop=loop,
        missing=missing,
    )


def all_peers() -> list[Peer]:
    """Every server of the suite, in table order, with why each cannot run (if so)."""
    no_uvloop = None if _has_module("uvloop") else "uvloop not installed (pip install uvloop)"
    no_websockets = None if _has_module("websockets") else "websockets not installed"
    node = shutil.which("node") or "node"
    return [
        _mockws("asyncio", None),
        _mockws("uvloop", no_uvloop),
        _python_peer(
            "aiohttp",
            "aiohttp_server",
            "asyncio",
            "raw aiohttp, no framework; naive send_str loop for broadcast",
            None,
        ),
        _python_peer("aiohttp", "aiohttp_server", "uvloop", "raw aiohttp on uvloop", no_uvloop),
        _python_peer(
            "websockets",
            "websockets_server",
            "asyncio",
            "websockets (asyncio server), websockets.broadcast",
            no_websockets,
        ),
        Peer(
            name="node-ws",
            argv=(node, str(NODE_DIR / "ws_server.mjs"), "{port}"),
            ready=r"^READY",
            description="Node.js with the ws package",
            loop="node",
            missing=_node_missing("ws"),
        ),
        Peer(
            name="vite-mock",
            argv=(
                node,
                str(NODE_DIR / "node_modules" / "vite" / "bin" / "vite.js"),
                "--port",
                "{port}",
                "--strictPort",
            ),
            ready=r"Local:",
            description="Vite dev server with vite-plugin-mock-dev-server ws mocks",
            loop="node",
            cwd=NODE_DIR / "vite",
            missing=_node_missing("vite", "vite-plugin-mock-dev-server"),
            env={"NO_COLOR": "1", "FORCE_COLOR": "0"},
        ),
        _python_peer(
            "floor",
            "floor_server",
            "asyncio",
            "bare asyncio Protocol, one write per message per client",
            None,
        ),
    ]


def _echo_once(port: int, timeout: float = 2.0) -> bool:
    """Upgrade, send one masked text frame to /echo, and read one frame back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(
            b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
        if b" 101 " not in received.split(b"\r\n", 1)[0]:
            return False
        payload = b'{"probe":1}'
        sock.sendall(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
        received = received.split(b"\r\n\r\n", 1)[1]
        while len(received) < 2 + len(payload):
            chunk = sock.recv(4096)
            if not chunk:
                return False
            received += chunk
        return received[0] == 0x81


class ServerProcess:
    """A peer running as a child process, stopped on exit.

    Attributes:
        pid: The server's process id (what /proc is read for).
        port: Where it listens on 127.0.0.1.
        startup: Seconds from spawning the process to its ready line.
    """

    def __init__(
        self, peer: Peer, config: Path | None = None, timeout: float = 60.0, log: Path | None = None
    ) -> None:
        self.peer = peer
        self.port = free_port()
        self._ready = threading.Event()
        self._lines: list[str] = []
        self._log = open(log or os.devnull, "ab")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "PYTHONPATH": str(ROOT), **peer.env}
        started = time.perf_counter()
        self.process = subprocess.Popen(
            peer.command(self.port, config),
            cwd=peer.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        self.pid = self.process.pid
        pattern = re.compile(peer.ready)
        reader = threading.Thread(target=self._read, args=(pattern, started), daemon=True)
        reader.start()
        self.startup = 0.0
        deadline = time.monotonic() + timeout
        # Stop waiting as soon as the server exits: a crash should not cost the timeout.
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                reader.join(1.0)
                self.stop()
                tail = "".join(self._lines[-5:]).strip()
                if log is not None and log.exists():
                    tail += " " + " ".join(log.read_text(errors="replace").splitlines()[-3:])
                raise RuntimeError(
                    f"{peer.name} did not print its ready line (exit {self.process.poll()}): {tail}"
                )

        self._wait_until_serving(deadline)

    def _wait_until_serving(self, deadline: float) -> None:
        """Echo one message on /echo: some servers print their ready line early.

        Vite prints its URL before vite-plugin-mock-dev-server has loaded the
        mock files, and an upgrade that arrives first is never answered.
        """
        while True:
            try:
                if _echo_once(self.port):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.peer.name} never answered an echo on /echo")
            time.sleep(0.2)

    def _read(self, pattern: re.Pattern[str], started: float) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace")
            if not self._ready.is_set():
                self._lines.append(line)
                if pattern.search(line):
                    self.startup = time.perf_counter() - started
                    self._ready.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Send SIGTERM to the server's process group, then SIGKILL if it lingers."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.process.wait(5.0)
        self._log.close()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
