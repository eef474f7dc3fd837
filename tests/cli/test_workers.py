"""`serve --workers` and `check`'s broker line (mockws/cli/workers.py, cli/commands.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mockws.cli import main
from mockws.cli.workers import reserve_port

from ..helpers import WriteFile
from ..redisserver import RedisServer, free_port


def config_with(write: WriteFile, broker: str | None) -> Path:
    write("handlers/app.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    line = f"broker: {broker}\n" if broker else ""
    return write(
        "mockws.yaml",
        f"port: 0\n{line}endpoints:\n  - pattern: /ws\n    handler: handlers/app.py\n",
    )


def test_workers_without_a_broker_is_a_usage_error(write: WriteFile) -> None:
    """More than one worker without `broker:` exits 2 and says what to add."""
    config = config_with(write, None)
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--workers", "2"])
    assert result.exit_code == 2
    assert "--workers 2 needs a broker" in result.output
    assert "broker: redis://" in result.output


def test_one_worker_needs_no_broker_and_zero_is_refused(write: WriteFile) -> None:
    """--workers 0 is a usage error (the range starts at 1)."""
    config = config_with(write, None)
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--workers", "0"])
    assert result.exit_code == 2
    assert "--workers" in result.output


def test_workers_that_cannot_reach_the_broker_exit_1(write: WriteFile) -> None:
    """Every worker says the broker does not answer; the parent gives up with exit 1."""
    pytest.importorskip("redis")
    config = config_with(write, f"redis://127.0.0.1:{free_port()}/0")
    done = subprocess.run(
        [sys.executable, "-m", "mockws", "serve", "--config", str(config), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.parent,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("does not answer") == 2, done.stderr
    assert "the workers did not start" in done.stderr


def test_check_reports_a_broker_that_answers(write: WriteFile, redis_server: RedisServer) -> None:
    """check prints the broker line with the server's version."""
    config = config_with(write, redis_server.url)
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"broker {redis_server.url}: answers (redis " in result.output


def test_check_reports_a_broker_that_does_not_answer(write: WriteFile) -> None:
    """check exits 1 naming the broker, with its password masked."""
    pytest.importorskip("redis")
    config = config_with(write, f"redis://:s3cret@127.0.0.1:{free_port()}/0")
    result = CliRunner().invoke(main, ["check", "--config", str(config)])
    assert result.exit_code == 1
    assert "does not answer" in result.output
    assert "s3cret" not in result.output and ":***@127.0.0.1" in result.output


def test_reserve_port_holds_a_port_that_workers_can_bind_too() -> None:
    """The parent's socket resolves port 0 and leaves the port bindable with SO_REUSEPORT."""
    reserved = reserve_port("127.0.0.1", 0)
    port = reserved.getsockname()[1]
    try:
        worker = socket.socket()
        worker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        worker.bind(("127.0.0.1", port))
        worker.listen()
        # The reserving socket does not listen: every connection goes to the worker.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            accepted, _ = worker.accept()
            accepted.close()
        worker.close()
        with pytest.raises(OSError):
            plain = socket.socket()
            try:
                plain.bind(("127.0.0.1", port))
            finally:
                plain.close()
    finally:
        reserved.close()
