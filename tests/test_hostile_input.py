"""Hostile input and careless handlers (issue 11, part 2), each over a real socket or process.

Every test here failed before its fix; docs/reliability.md lists them in its
probe table.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import jwt
import pytest

from mockws.testing import run_server

from .helpers import WriteFile, endpoint, eventually, handler_module, killed_on_exit, start_serve
from .rawws import OP_CLOSE, OP_TEXT, RawClient, raw_connect, upgrade_request

ECHO = """
SEEN = []


async def on_message(conn, data):
    SEEN.append(type(data).__name__)
    await conn.send(data if not isinstance(data, (list, dict)) else {"kind": type(data).__name__})
"""

SECRET = "k" * 32


def unmasked(opcode: int, payload: bytes) -> bytes:
    """A frame as a server would send it: no mask, which a client must never do."""
    assert len(payload) < 126
    return bytes([0x80 | opcode, len(payload)]) + payload


async def echo_works(port: int, path: str = "/echo") -> None:
    """Another connection is still served."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{port}{path}") as ws:
            await ws.send_str("still here")
            assert (await ws.receive(timeout=5)).data == "still here"


async def serve_lines(process: asyncio.subprocess.Process, until: str, timeout: float = 10) -> str:
    """Read the server's stderr until a line containing ``until``; return all of it."""
    assert process.stderr is not None
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            line = (await process.stderr.readline()).decode(errors="replace")
            assert line, "".join(seen)
            seen.append(line)
            if until in line:
                return "".join(seen)


async def stop_serve(process: asyncio.subprocess.Process) -> str:
    """SIGTERM the server; return the rest of its stderr."""
    process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    rest = await asyncio.wait_for(process.stderr.read(), 20)
    await asyncio.wait_for(process.wait(), 20)
    return rest.decode(errors="replace")


def check(*args: str, cwd: Path) -> tuple[int, str, float]:
    """Run `mockws check` and return its exit code, its stderr and how long it took."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "mockws", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr + done.stdout, time.monotonic() - started


# 1. Deeply nested JSON


async def test_deeply_nested_json_arrives_as_text_and_the_connection_lives(
    write: WriteFile,
) -> None:
    """1 KB of '[' and JSON nested 100,000 deep arrive as str; the session goes on."""
    base = write("echo.py", ECHO).parent
    async with run_server({"endpoints": [endpoint("/echo", "echo.py")]}, base_dir=base) as server:
        client = await server.connect("/echo")
        for text in ("[" * 1024, "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1"):
            await client.send(text)
            assert await client.receive(parse_json=False) == text
        await client.send({"ok": 1})
        assert await client.receive_json() == {"kind": "dict"}
        assert handler_module("echo").SEEN == ["str", "str", "str", "dict"]


# 2. A background task that swallows CancelledError


STUBBORN = """
import asyncio


async def background(hub):
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass
"""


async def test_a_background_that_swallows_cancellation_does_not_stop_the_exit(
    write: WriteFile,
) -> None:
    """SIGTERM ends `mockws serve` within its grace periods; the task is logged as abandoned."""
    write("stubborn.py", STUBBORN)
    config = write("mockws.yaml", "endpoints:\n  - pattern: /s\n    handler: stubborn.py\n")
    process, _ = await start_serve("--port", "0", "--no-reload", cwd=config.parent)
    async with killed_on_exit(process):
        started = time.monotonic()
        rest = await stop_serve(process)
        assert time.monotonic() - started < 15, rest
        assert "abandoned" in rest


async def test_a_second_ctrl_c_exits_at_once(write: WriteFile) -> None:
    """While shutdown waits on a stubborn task, a second SIGINT ends the process at once."""
    write("stubborn.py", STUBBORN)
    config = write("mockws.yaml", "endpoints:\n  - pattern: /s\n    handler: stubborn.py\n")
    process, _ = await start_serve("--port", "0", "--no-reload", cwd=config.parent)
    async with killed_on_exit(process):
        process.send_signal(signal.SIGINT)
        await asyncio.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 5)
        assert time.monotonic() - started < 1.5
        assert process.returncode == -signal.SIGINT


GENERATION = """
import asyncio
from pathlib import Path

GENERATION = {generation}
STOP = Path(__file__).with_name("stop")  # lets the test end the stubborn tasks at last


async def on_connect(conn):
    conn.join("ticks")


async def background(hub):
    while not STOP.exists():
        try:
            await hub.broadcast({{"generation": GENERATION}}, rooms="ticks")
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            pass
        except RuntimeError:
            await asyncio.sleep(0.05)
"""


async def test_an_abandoned_generation_stops_broadcasting_after_a_reload(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After reloads, only the newest background generation reaches clients."""
    monkeypatch.setattr("mockws.server.background.BACKGROUND_GRACE", 0.2)
    path = write("ticker.py", GENERATION.format(generation=0))
    config = {"endpoints": [endpoint("/t", "ticker.py")]}
    async with run_server(config, base_dir=path.parent, reload=True) as server:
        server.server.background.grace = 0.2
        client = await server.connect("/t")
        assert (await client.receive_json())["generation"] == 0
        for generation in (1, 2):
            async with server.reloaded():
                path.write_text(GENERATION.format(generation=generation))
            await asyncio.sleep(0.5)  # the old task is abandoned after its grace
        seen = set()
        try:
            # What was queued before the old tasks were abandoned comes first.
            while (await client.receive_json())["generation"] != 2:
                pass
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                seen.add((await client.receive_json())["generation"])
        finally:
            write("stop", "")
            await asyncio.sleep(0.2)
        assert seen == {2}


# 3. YAML alias bomb


BOMB = "".join(
    [
        "a: &a [x, x, x, x, x, x, x, x, x]\n",
        *(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n"
            for i in range(8)
        ),
        "endpoints:\n  - pattern: /a\n    handler: h.py\n",
    ]
)


def test_a_yaml_alias_bomb_is_refused_fast_with_its_line(write: WriteFile) -> None:
    """Nine lines that expand to 9^9 values: `mockws check` refuses them at once, exit 2."""
    write("h.py", "")
    config = write("mockws.yaml", BOMB)
    code, output, took = check("--config", str(config), cwd=config.parent)
    assert code == 2, output
    assert f"{config.name}:" in output and "expands to more than 100,000 values" in output
    assert took < 10


async def test_a_saved_alias_bomb_does_not_stall_a_running_server(write: WriteFile) -> None:
    """Saving the bomb into a served config keeps other connections answered promptly."""
    base = write("echo.py", ECHO).parent
    config = write("mockws.yaml", "endpoints:\n  - pattern: /echo\n    handler: echo.py\n")
    async with run_server(config, reload=True) as server:
        client = await server.connect("/echo")
        async with server.reloaded() as wait:
            config.write_text(BOMB.replace("h.py", "echo.py").replace("/a", "/echo"))
        assert "expands to more than" in (wait.report.config_error or "")
        started = time.monotonic()
        await client.send("ping")
        assert await client.receive() == "ping"
        assert time.monotonic() - started < 1.0
        assert base.is_dir()


# 4. Thousands of endpoints


def test_checking_two_thousand_endpoints_is_linear(write: WriteFile) -> None:
    """`mockws check` with 2,000 endpoints is quick (it took 102 s when quadratic)."""
    write("h.py", "async def on_message(conn, data):\n    await conn.send(data)\n")
    entries = "".join(f"  - pattern: /e{i}/{{room}}\n    handler: h.py\n" for i in range(2000))
    config = write("mockws.yaml", "endpoints:\n" + entries)
    code, output, took = check("--config", str(config), cwd=config.parent)
    assert code == 0, output
    assert took < 20, took


async def test_reloading_a_large_config_keeps_connections_served(write: WriteFile) -> None:
    """A save of a 1,500-endpoint config: an echo in flight meanwhile is answered promptly."""
    write("echo.py", ECHO)

    def text(count: int) -> str:
        return "endpoints:\n" + "".join(
            f"  - pattern: {'/echo' if i == 0 else f'/e{i}'}\n    handler: echo.py\n"
            for i in range(count)
        )

    config = write("mockws.yaml", text(1500))
    async with run_server(config, reload=True) as server:
        client = await server.connect("/echo")
        latencies = []
        async with server.reloaded():
            config.write_text(text(1501))
            for _ in range(20):
                started = time.monotonic()
                await client.send("ping")
                assert await client.receive() == "ping"
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.02)
        assert max(latencies) < 1.5, latencies
        assert len(server.server.endpoints) == 1501


# 5. Unmasked client frames


async def test_an_unmasked_client_frame_fails_the_connection_1002(
    write: WriteFile, raw_clients: list[RawClient]
) -> None:
    """RFC 6455 5.1: the server closes with 1002 instead of echoing it."""
    base = write("echo.py", ECHO).parent
    async with run_server({"endpoints": [endpoint("/echo", "echo.py")]}, base_dir=base) as server:
        client = await raw_connect(server.port, "/echo")
        client.writer.write(unmasked(OP_TEXT, b"hello"))
        frame = await client.read_frame()
        assert (frame.opcode, frame.close_code) == (OP_CLOSE, 1002)
        assert await client.at_eof()
        assert handler_module("echo").SEEN == []
        await echo_works(server.port)


# 6, 7. Log injection and a token after ';' in the access log


async def test_a_newline_in_a_token_header_cannot_forge_a_log_line(write: WriteFile) -> None:
    """The 4002 reason quotes the token's crit header; its newline is escaped in the log."""
    write("h.py", "")
    config = write(
        "mockws.yaml",
        "endpoints:\n  - pattern: /s\n    handler: h.py\n    authenticate:\n"
        f"      jwt: {{secret: {SECRET}, algorithms: [HS256]}}\n",
    )
    process, lines = await start_serve("--port", "0", "--no-reload", cwd=config.parent)
    async with killed_on_exit(process):
        port = int(lines[-1].rsplit(":", 1)[1].split()[0])
        forged = "x\n12:00:00 INFO     mockws.server: FORGED"
        token = jwt.encode({"sub": "a"}, SECRET, algorithm="HS256", headers={"crit": [forged]})
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{port}/s?token={token}") as ws:
                assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 4002
        log = await serve_lines(process, "refused")
        log += await stop_serve(process)
    assert not any(line.startswith("12:00:00") for line in log.splitlines()), log
    assert "x\\x0a12:00:00 INFO" in log


async def test_a_token_after_a_semicolon_is_masked_in_the_access_log(write: WriteFile) -> None:
    """GET /path?a=1;token=<JWT> is logged with the token masked."""
    write("h.py", "")
    config = write("mockws.yaml", "endpoints:\n  - pattern: /s\n    handler: h.py\n")
    process, lines = await start_serve("--port", "0", "--no-reload", cwd=config.parent)
    async with killed_on_exit(process):
        port = int(lines[-1].rsplit(":", 1)[1].split()[0])
        token = jwt.encode({"sub": "a"}, SECRET, algorithm="HS256")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/path?a=1;token={token}") as reply:
                assert reply.status == 404
        log = await serve_lines(process, "/path?")
        log += await stop_serve(process)
    assert token not in log and token.split(".")[2] not in log
    assert "token=***" in log


# 8. Secrets in messages


async def test_secrets_in_messages_are_masked_by_folded_key_names(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """accessToken, refresh_token, an escaped key, list values, Authorization: none reach
    the message log or the inspector's feed."""
    base = write("echo.py", ECHO).parent
    secrets = [f"SECRET{i}" for i in range(6)]
    text = (
        f'{{"accessToken":"{secrets[0]}","refresh_token":"{secrets[1]}",'
        f'"tok\\u0065n":"{secrets[2]}","token":["{secrets[3]}"],'
        f'"headers":{{"Authorization":"Bearer {secrets[4]}"}},'
        f'"client_secret":{{"v":"{secrets[5]}"}}}}'
    )
    config = {"endpoints": [endpoint("/echo", "echo.py", parse_json=False)]}
    with caplog.at_level(logging.INFO, logger="mockws.message"):
        async with run_server(config, base_dir=base, log_messages=True) as server:
            async with aiohttp.ClientSession() as session:
                feed = await session.ws_connect(server.url("/__mockws/feed"))
                client = await server.connect("/echo")
                await client.send(text)
                assert await client.receive(parse_json=False) == text
                await eventually(lambda: len(caplog.records) >= 2)
                shown = []
                while not any("in" == event.get("type") for event in shown):
                    message = json.loads((await feed.receive(timeout=5)).data)
                    shown += message.get("events", [])
                await feed.close()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in logged, logged
        assert secret not in json.dumps(shown), shown


# 9. Short HMAC secrets


def test_a_one_character_hmac_secret_is_warned_about(write: WriteFile) -> None:
    """`mockws check` warns, naming the file, line and key; the config still loads."""
    write("h.py", "")
    config = write(
        "mockws.yaml",
        "endpoints:\n  - pattern: /s\n    handler: h.py\n    authenticate:\n"
        "      jwt: {secret: x, algorithms: [HS256]}\n",
    )
    code, output, _ = check("--config", str(config), cwd=config.parent)
    assert code == 0, output
    assert "mockws.yaml:5: endpoints[0].authenticate.jwt.secret: an HMAC secret" in output
    assert "at least 32 bytes, this one is 1" in output


# 10. Encoded separators and NUL in paths


ROOMS = """
async def on_connect(conn):
    await conn.send({"endpoint": conn.endpoint, "params": dict(conn.params)})
"""


async def test_an_encoded_slash_stays_inside_its_segment(write: WriteFile) -> None:
    """/rooms/a%2Fb is /rooms/{room} with room 'a/b'; '..' and NUL match no endpoint."""
    base = write("rooms.py", ROOMS).parent
    config = {
        "endpoints": [
            endpoint("/rooms/{room}", "rooms.py"),
            endpoint("/rooms/{room}/{sub}", "rooms.py"),
        ]
    }
    async with run_server(config, base_dir=base) as server:
        client = await server.connect("/rooms/a%2Fb")
        assert await client.receive_json() == {
            "endpoint": "/rooms/{room}",
            "params": {"room": "a/b"},
        }
        async with aiohttp.ClientSession() as session:
            for path in ("/rooms/%2e%2e", "/rooms/a%00b", "/rooms/x/%2E%2E"):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(upgrade_request(path, server.port))
                status = (await asyncio.wait_for(reader.readline(), 5)).split()[1]
                writer.close()
                assert status == b"404", path
            assert session is not None


# 11. sys.exit in a Python config


def test_a_python_config_that_exits_is_a_config_error(write: WriteFile) -> None:
    """`mockws check` on a config that calls sys.exit(0) exits 2 and says why."""
    config = write("dev.py", "import sys\nsys.exit(0)\nconfig = {}\n")
    code, output, _ = check("--config", str(config), cwd=config.parent)
    assert code == 2, output
    assert "sys.exit(0)" in output


# 12. Nested JSON on the admin API; a lone surrogate in a close reason


async def test_a_deeply_nested_admin_body_is_a_400(write: WriteFile) -> None:
    """A body nested past Python's recursion limit gets 400, not a 500 with a traceback."""
    base = write("echo.py", ECHO).parent
    async with run_server({"endpoints": [endpoint("/echo", "echo.py")]}, base_dir=base) as server:
        url = server.http_url("/__mockws/api/broadcast")
        async with aiohttp.ClientSession() as session:
            for body in ('{"data":' + "[" * 100_000 + "]" * 100_000 + "}",):
                async with session.post(url, data=body) as reply:
                    assert reply.status == 400, await reply.text()
                    assert "nested too deeply" in (await reply.json())["error"]
            nested = '{"data":' + "[" * 900 + "]" * 900 + "}"
            async with session.post(url, data=nested) as reply:
                assert reply.status in (200, 400), await reply.text()


async def test_an_admin_close_with_a_lone_surrogate_reason_closes(write: WriteFile) -> None:
    """A reason holding a lone surrogate closes the connection; it used to be a 500."""
    base = write("echo.py", ECHO).parent
    async with run_server({"endpoints": [endpoint("/echo", "echo.py")]}, base_dir=base) as server:
        client = await server.connect("/echo")
        (conn,) = server.hub.connections.values()
        url = server.http_url(f"/__mockws/api/connections/{conn.id}/close")
        async with aiohttp.ClientSession() as session:
            body = '{"code": 4000, "reason": "bad \\ud800 reason"}'
            async with session.post(url, data=body) as reply:
                assert reply.status == 200, await reply.text()
        assert await client.expect_close() == (4000, "bad ? reason")


# 13. Origin and Host parsed strictly


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.com\\@localhost",
        "http://user@localhost",
        "http://[localhost]",
        "http://x@[::1]",
    ],
)
async def test_an_origin_that_only_pretends_to_be_loopback_is_refused(
    write: WriteFile, origin: str
) -> None:
    """The default allowed origins are loopback; tricks after '\\@', '@' or in brackets are 403."""
    base = write("echo.py", ECHO).parent
    async with run_server({"endpoints": [endpoint("/echo", "echo.py")]}, base_dir=base) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(upgrade_request("/echo", server.port, f"Origin: {origin}\r\n"))
        status = (await asyncio.wait_for(reader.readline(), 5)).split()[1]
        writer.close()
        assert status == b"403"
        await echo_works(server.port)


@pytest.mark.parametrize("host", ["evil.com\\@localhost", "user@localhost", "localhost:99999"])
async def test_an_admin_host_that_only_pretends_to_be_loopback_is_refused(
    write: WriteFile, host: str
) -> None:
    """The admin API answers a Host it cannot parse strictly with 400 (was 200 or 500)."""
    async with run_server({}) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        request = f"GET /__mockws/api/rooms HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        status = (await asyncio.wait_for(reader.readline(), 5)).split()[1]
        writer.close()
        assert status == b"400"


# 14. File descriptors exhausted


def _low_fd_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


async def test_running_out_of_file_descriptors_logs_one_warning(write: WriteFile) -> None:
    """With 64 descriptors and 100 clients, the server logs one warning naming the limit,
    no traceback per accept attempt, and serves again once clients leave."""
    write("echo.py", ECHO)
    config = write("mockws.yaml", "endpoints:\n  - pattern: /echo\n    handler: echo.py\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockws",
        "serve",
        "--port",
        "0",
        "--no-reload",
        "--loop",
        "asyncio",  # asyncio's accept() logs its errors; uvloop's retries quietly
        cwd=config.parent,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_low_fd_limit,
    )
    async with killed_on_exit(process):
        assert process.stdout is not None
        line = b""
        async with asyncio.timeout(15):
            while b"ready on" not in line:
                line = await process.stdout.readline()
                assert line
        port = int(line.decode().rsplit(":", 1)[1].split()[0])
        clients = []
        for _ in range(100):
            sock = socket.create_connection(("127.0.0.1", port))
            clients.append(sock)
        await asyncio.sleep(3.5)
        for sock in clients:
            sock.close()
        await asyncio.sleep(1.5)
        await echo_works(port)
        rest = await stop_serve(process)
    assert rest.count("out of file descriptors") == 1, rest
    assert "RLIMIT_NOFILE" in rest and "ulimit -n" in rest
    assert "Traceback" not in rest, rest


def test_serve_raises_the_soft_open_files_limit(write: WriteFile) -> None:
    """raise_open_files_limit lifts the soft limit to the hard one."""
    from mockws.server.listener import raise_open_files_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raise_open_files_limit()
        assert (
            resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard or hard == resource.RLIM_INFINITY
        )
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
