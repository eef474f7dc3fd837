"""Bad input over raw sockets: the right close code or HTTP answer, and others keep being served.

Bad config is covered in tests/config/test_load.py: malformed YAML
(``dev.yaml:3: invalid YAML``), valid YAML with wrong keys and types
(test_config_errors_name_file_line_and_key), a handler that raises at import
(test_handler_that_raises_at_import). Non-JSON text on a parse_json endpoint
arriving as ``str`` is pinned by tests/server/test_app.py
(test_binary_text_and_json_round_trip); here it is checked not to close the
connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from click.testing import CliRunner

from mockws.cli import main
from mockws.testing import MockClient, RunningServer, run_server

from .helpers import WriteFile, endpoint, eventually, handler_module
from .rawws import RawClient, frame, upgrade_request

ECHO = """
CLOSED = []


async def on_message(conn, data):
    await conn.send(data)


async def on_close(conn, code, reason):
    CLOSED.append(code)
"""


@asynccontextmanager
async def echo_server(write: WriteFile) -> AsyncIterator[tuple[RunningServer, MockClient]]:
    """An echo server and a bystander client connected to it."""
    base = write("bad_input_echo.py", ECHO).parent
    config = {"endpoints": [endpoint("/echo", "bad_input_echo.py")]}
    async with run_server(config, base_dir=base) as server:
        yield server, await server.connect("/echo")


async def still_served(client: MockClient) -> None:
    """The bystander connection still gets its echo."""
    await client.send("are you there?")
    assert await client.receive() == "are you there?"


@pytest.mark.parametrize(
    ("bad_frames", "code"),
    [
        pytest.param([frame(0x1, "caf\u00e9".encode("latin-1"))], 1007, id="invalid-utf8-text"),
        pytest.param(
            [frame(0x1, b"ok", fin=False), frame(0x0, b"\xff\xfe")],
            1007,
            id="invalid-utf8-fragment",
        ),
        pytest.param([frame(0x8, b"\x03")], 1002, id="one-byte-close-payload"),
        pytest.param([frame(0x3, b"x")], 1002, id="reserved-opcode-3"),
        pytest.param([frame(0xB, b"")], 1002, id="reserved-control-opcode-11"),
        pytest.param([frame(0x1, b"x", rsv=0b100)], 1002, id="rsv1-without-extension"),
        pytest.param([frame(0x9, b"p" * 126)], 1002, id="ping-over-125-bytes"),
        pytest.param([frame(0x9, b"", fin=False)], 1002, id="fragmented-ping"),
        pytest.param([frame(0x0, b"orphan")], 1002, id="continuation-without-start"),
        pytest.param([frame(0x8, b"\x03\xe8\xff")], 1007, id="close-reason-not-utf8"),
    ],
)
async def test_protocol_violations_get_the_right_close_code(
    write: WriteFile, raw_clients: object, bad_frames: list[bytes], code: int
) -> None:
    """Each protocol violation closes that connection with its RFC 6455 code; others carry on."""
    async with echo_server(write) as (server, bystander):
        raw = await RawClient.upgrade(server.port, "/echo")
        await raw.send(frame(0x1, b"before"))
        assert (await raw.read_frame()).payload == b"before"
        await raw.send(b"".join(bad_frames))
        assert await raw.read_close() == code
        assert await raw.at_eof()
        closed = handler_module("bad_input_echo").CLOSED
        await eventually(lambda: closed == [code])
        await still_served(bystander)


async def test_reply_queued_before_a_protocol_error_leaves_before_the_close(
    write: WriteFile, raw_clients: object
) -> None:
    """Frames leave in the order produced: an echo precedes the 1002 for a later bad frame."""
    async with echo_server(write) as (server, _):
        raw = await RawClient.upgrade(server.port, "/echo")
        await raw.send(frame(0x1, b"first") + frame(0x3, b"reserved"))
        echo = await raw.read_frame()
        assert (echo.opcode, echo.payload) == (0x1, b"first")
        assert (await raw.read_frame()).close_code == 1002


async def test_non_json_text_on_parse_json_endpoint_is_delivered_as_text(
    write: WriteFile,
) -> None:
    """Text that is not JSON reaches on_message as str and the connection stays open."""
    async with echo_server(write) as (server, _):
        client = await server.connect("/echo")
        for text in ("{not json", "[1, 2", "nul", "-", "\ufeff{}"):
            await client.send(text)
            assert await client.receive(parse_json=False) == text
        assert not client.closed


async def test_truncated_frame_then_eof_closes_quietly(
    write: WriteFile, raw_clients: object
) -> None:
    """A frame cut short by EOF ends that connection (on_close sees 1006); others carry on."""
    async with echo_server(write) as (server, bystander):
        raw = await RawClient.upgrade(server.port, "/echo")
        await raw.send(frame(0x1, b"x" * 100)[:20])
        raw.writer.write_eof()
        assert await raw.at_eof()
        closed = handler_module("bad_input_echo").CLOSED
        await eventually(lambda: closed == [1006])
        await eventually(lambda: len(server.hub.connections) == 1)
        await still_served(bystander)


async def http_exchange(server: RunningServer, request: bytes) -> str:
    raw = await RawClient.open(server.port)
    await raw.send(request)
    head = await raw.read_head()
    rest = await asyncio.wait_for(raw.reader.read(), 5)
    return head + rest.decode("latin-1")


async def test_garbage_instead_of_a_handshake_gets_400(
    write: WriteFile, raw_clients: object
) -> None:
    """Bytes that are not HTTP get 400 and a closed connection; others carry on."""
    async with echo_server(write) as (server, bystander):
        for garbage in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" * 3, b"HELLO\r\n\r\n"):
            answer = await http_exchange(server, garbage)
            assert answer.startswith(("HTTP/1.1 400 Bad Request", "HTTP/1.0 400 Bad Request"))
        await still_served(bystander)


async def test_request_smuggled_behind_a_refused_upgrade_is_not_served(
    write: WriteFile, raw_clients: object
) -> None:
    """An Upgrade request that is refused (no key) does not let a pipelined request through."""
    async with echo_server(write) as (server, bystander):
        smuggled = b"GET /secret HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = await http_exchange(
            server,
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            + smuggled,
        )
        assert answer.startswith("HTTP/1.1 426"), answer
        assert "/secret" not in answer and answer.count("HTTP/1.1") == 1, answer
        answer = await http_exchange(
            server,
            b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
        )
        assert answer.startswith(("HTTP/1.1 400", "HTTP/1.0 400")), answer
        assert "/secret" not in answer and answer.count("HTTP/1.") == 1, answer
        await still_served(bystander)


async def test_upgrade_with_wrong_version_is_refused(write: WriteFile, raw_clients: object) -> None:
    """A handshake with an unsupported Sec-WebSocket-Version is refused, not upgraded."""
    async with echo_server(write) as (server, _):
        request = upgrade_request("/echo", server.port).replace(
            b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 99"
        )
        answer = await http_exchange(server, request)
        assert answer.startswith("HTTP/1.1 426"), answer
        assert list(server.hub.connections) == ["c1"]  # the bystander only


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"mockws.yaml": "endpoints:\n  - pattern: /a\n   handler: x\n"},
            "mockws.yaml:3: invalid YAML",
        ),
        (
            {"mockws.yaml": "endpoints:\n  - pattern: /a\n    handler: h.py\n    heartbeat: x\n"},
            "mockws.yaml:4: endpoints[0].heartbeat: expected a number of seconds",
        ),
        (
            {
                "mockws.yaml": "endpoints:\n  - pattern: /a\n    handler: boom.py\n",
                "boom.py": "import json\nraise RuntimeError('no database')\n",
            },
            "boom.py:2: RuntimeError while importing: no database",
        ),
    ],
)
def test_serve_refuses_bad_config_with_file_and_line(
    write: WriteFile, files: dict[str, str], expected: str
) -> None:
    """`mockws serve` with a broken config or handler exits 2 naming file and line."""
    for name, text in files.items():
        path = write(name, text)
    result = CliRunner().invoke(main, ["serve", "--config", str(path.parent / "mockws.yaml")])
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
