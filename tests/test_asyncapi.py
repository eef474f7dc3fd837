"""AsyncAPI documents served as live mocks, over real sockets.

Two documents written for these tests: tests/asyncapi_docs/chat.yaml (3.0,
request/reply with a correlation id, its schemas in schemas.yaml by $ref)
and tests/asyncapi_docs/ticker.yaml (2.6, timed pushes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mockws.testing import RunningServer, run_server

from .helpers import ROOT, WriteFile, killed_on_exit, start_serve

DOCS = Path(__file__).parent / "asyncapi_docs"
CHAT = {"asyncapi": "chat.yaml"}


async def refused(server: RunningServer, path: str, **query: str) -> tuple[int, str]:
    """Open a WebSocket that must be refused; return its status and body."""
    async with aiohttp.ClientSession() as http:
        response = await http.get(
            server.http_url(server.server.router.prefix + path),
            params=query,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version": "13",
            },
        )
        return response.status, await response.text()


def invalid_events(server: RunningServer) -> list[dict[str, Any]]:
    """Collect the SpecViolation events of ``server`` as the inspector gets them."""
    from mockws.events import event_to_dict

    found: list[dict[str, Any]] = []

    def listen(event: Any) -> None:
        if event.kind == "invalid":
            found.append(event_to_dict(event))

    server.hub.events.subscribe(listen, messages=False)
    return found


async def test_each_channel_becomes_an_endpoint_under_its_server_pathname() -> None:
    async with run_server(CHAT, base_dir=DOCS) as server:
        assert [e.pattern for e in server.server.endpoints] == ["/api/chat/{room}"]
    async with run_server({"asyncapi": "ticker.yaml"}, base_dir=DOCS) as server:
        assert [e.pattern for e in server.server.endpoints] == ["/market/ticker/{symbol}"]


async def test_handshake_checks_parameters_and_the_ws_binding_query() -> None:
    """A parameter outside its enum or a query that breaks the schema gets HTTP 400 with why."""
    async with run_server(CHAT, base_dir=DOCS) as server:
        status, text = await refused(server, "/api/chat/kitchen", user="ann")
        assert status == 400
        assert "parameter room: 'kitchen' is not one of ['lobby', 'dev'] [enum]" in text
        status, text = await refused(server, "/api/chat/lobby")
        assert status == 400 and "'user' is a required property [required]" in text
        status, text = await refused(server, "/api/chat/lobby", user="Ann1")
        assert status == 400 and "query/user: 'Ann1' does not match" in text and "[pattern]" in text
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        assert await client.receive_json() == {"type": "welcome", "motd": "Be nice"}
    async with run_server({"asyncapi": "ticker.yaml"}, base_dir=DOCS) as server:
        status, text = await refused(server, "/market/ticker/acme")
        assert status == 400 and "parameter symbol" in text and "[pattern]" in text


async def test_a_token_in_the_query_is_never_quoted_in_the_refusal(write: WriteFile) -> None:
    write(
        "api.yaml",
        """
        asyncapi: 3.0.0
        info: {title: t, version: '1'}
        channels:
          feed:
            address: /feed
            bindings:
              ws:
                query:
                  type: object
                  properties: {token: {type: string, minLength: 40}}
        """,
    )
    async with run_server({"asyncapi": "api.yaml"}, base_dir=write("x", "").parent) as server:
        status, text = await refused(server, "/feed", token="hunter2-secret")
        assert status == 400 and "query/token: fails 'minLength'" in text
        assert "hunter2" not in text


async def test_push_from_examples_on_connect_and_reply_with_the_correlation_id() -> None:
    async with run_server(CHAT, base_dir=DOCS) as server:
        client = await server.connect("/api/chat/dev", query={"user": "bob"})
        assert await client.receive_json() == {"type": "welcome", "motd": "Be nice"}
        await client.send({"type": "say", "requestId": "r-17", "text": "hello"})
        assert await client.receive_json() == {
            "type": "said",
            "requestId": "r-17",
            "ok": True,
            "id": 42,
        }
        await client.send({"type": "say", "requestId": "r-18", "text": "again"})
        assert (await client.receive_json())["requestId"] == "r-18"


async def test_timed_pushes_cycle_through_the_examples_every_interval() -> None:
    """The 2.6 ticker pushes its two examples in turn, every x-mockws-interval (0.2 s)."""
    async with run_server({"asyncapi": "ticker.yaml"}, base_dir=DOCS) as server:
        client = await server.connect("/market/ticker/ACME")
        started = time.monotonic()
        prices = [(await client.receive_json())["price"] for _ in range(4)]
        elapsed = time.monotonic() - started
        assert prices == [10.5, 10.75, 10.5, 10.75]
        assert 0.5 <= elapsed < 3.0  # three intervals of 0.2 s, generous for a loaded machine
        await client.close()
        await asyncio.sleep(0.3)
        assert not server.hub.connections


async def test_warn_mode_logs_and_shows_failures_and_passes_the_message_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Warn mode: an invalid message is logged and sent to the inspector; the socket stays open."""
    async with run_server({"asyncapi": "ticker.yaml"}, base_dir=DOCS) as server:
        events = invalid_events(server)
        client = await server.connect("/market/ticker/ACME")
        with caplog.at_level(logging.WARNING, logger="mockws.asyncapi"):
            await client.send({"action": "subscribe", "depth": 50})
            await client.send({"action": "unsubscribe"})
            async with asyncio.timeout(5):
                while not events:
                    await asyncio.sleep(0.01)
        assert events[0]["direction"] == "incoming" and events[0]["mode"] == "warn"
        assert events[0]["problems"] == [
            {
                "keyword": "maximum",
                "path": "/depth",
                "value": "50",
                "message": "50 is greater than the maximum of 10",
            }
        ]
        assert len(events) == 1  # the valid unsubscribe is not reported
        assert "/depth: 50 is greater than the maximum of 10 [maximum]" in caplog.text
        assert not client.closed
        assert "price" in await client.receive_json()


async def test_warn_failures_reach_the_inspector_feed() -> None:
    async with run_server(CHAT, base_dir=DOCS) as server, aiohttp.ClientSession() as http:
        feed = await http.ws_connect(f"http://127.0.0.1:{server.port}/__mockws/feed")
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        await client.send({"type": "say", "requestId": "1", "text": ""})
        async with asyncio.timeout(5):
            while True:
                message = json.loads(await feed.receive_str())
                found = [e for e in message.get("events", ()) if e["type"] == "invalid"]
                if found:
                    break
        assert found[0]["problems"][0]["keyword"] == "minLength"
        assert found[0]["problems"][0]["path"] == "/text"
        assert found[0]["channel"] == "chat.yaml#/channels/room"
        await feed.close()


async def test_reject_mode_answers_errors_then_closes_1007_past_max_invalid() -> None:
    config = {"asyncapi": {"file": "chat.yaml", "validate": "reject", "max_invalid": 2}}
    async with run_server(config, base_dir=DOCS) as server:
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        await client.receive_json()
        for _ in range(2):
            await client.send({"type": "say", "requestId": "1", "text": 5})
            error = await client.receive_json()
            assert error["error"] == "invalid message"
            assert error["problems"][0]["keyword"] == "type"
            assert error["problems"][0]["path"] == "/text"
        # A valid message still gets its reply: only invalid ones count.
        await client.send({"type": "say", "requestId": "ok", "text": "fine"})
        assert (await client.receive_json())["requestId"] == "ok"
        await client.send({"type": "nope"})
        assert (await client.receive_json())["error"] == "invalid message"
        code, reason = await client.expect_close()
        assert code == 1007 and "max_invalid 2" in reason


async def test_a_handler_on_a_spec_channel_is_validated_both_ways(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """A hand-written endpoint on a channel: its handler serves; both directions are checked."""
    shutil.copy(DOCS / "chat.yaml", write("chat.yaml", "").parent / "chat.yaml")
    shutil.copy(DOCS / "schemas.yaml", write("schemas.yaml", "").parent / "schemas.yaml")
    write(
        "chat.py",
        """
        async def on_message(conn, data):
            if data.get("text") == "bad":
                await conn.send({"type": "said", "ok": "yes"})
            else:
                await conn.send({"type": "said", "requestId": data.get("requestId"), "ok": True})
        """,
    )
    config = {
        "endpoints": [
            {
                "pattern": "/api/chat/{room}",
                "handler": "chat.py",
                "asyncapi": {"file": "chat.yaml", "channel": "room", "validate": "reject"},
            }
        ]
    }
    async with run_server(config, base_dir=write("x", "").parent) as server:
        events = invalid_events(server)
        status, text = await refused(server, "/api/chat/attic", user="ann")
        assert status == 400 and "[enum]" in text
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        await client.send({"type": "say", "requestId": "a", "text": "hi"})
        assert await client.receive_json() == {"type": "said", "requestId": "a", "ok": True}
        with caplog.at_level(logging.WARNING, logger="mockws.asyncapi"):
            await client.send({"type": "say", "requestId": "b", "text": "bad"})
            assert await client.receive_json() == {"type": "said", "ok": "yes"}
        assert "outgoing message breaks the AsyncAPI spec" in caplog.text
        outgoing = [e for e in events if e["direction"] == "outgoing"]
        assert {p["keyword"] for p in outgoing[0]["problems"]} >= {"type"}
        # reject mode: the handler never sees an invalid incoming message.
        await client.send({"type": "say", "requestId": "c"})
        assert (await client.receive_json())["error"] == "invalid message"
        await client.expect_no_message(0.2)


async def test_the_spec_hot_reloads(write: WriteFile) -> None:
    folder = write("x", "").parent
    shutil.copy(DOCS / "chat.yaml", folder / "chat.yaml")
    shutil.copy(DOCS / "schemas.yaml", folder / "schemas.yaml")
    async with run_server(CHAT, base_dir=folder, reload=True) as server:
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        assert (await client.receive_json())["motd"] == "Be nice"
        async with server.reloaded() as done:
            text = (folder / "chat.yaml").read_text()
            (folder / "chat.yaml").write_text(text.replace("Be nice", "Be kind"))
        assert done.report is not None and done.report.ok, done.report
        again = await server.connect("/api/chat/lobby", query={"user": "ann"})
        assert (await again.receive_json())["motd"] == "Be kind"
        # A referenced file reloads too: maxLength 200 -> 3.
        async with server.reloaded() as done:
            schemas = (folder / "schemas.yaml").read_text()
            (folder / "schemas.yaml").write_text(schemas.replace("maxLength: 200", "maxLength: 3"))
        assert done.report is not None and done.report.ok, done.report
        events = invalid_events(server)
        third = await server.connect("/api/chat/lobby", query={"user": "ann"})
        await third.receive_json()
        await third.send({"type": "say", "requestId": "1", "text": "long text"})
        await third.receive_json()  # warn mode: the reply still comes
        assert events and events[0]["problems"][0]["keyword"] == "maxLength"
        # A broken edit keeps the running spec and says where.
        async with server.reloaded() as done:
            (folder / "schemas.yaml").write_text(schemas.replace("$ref: '#/Text'", "$ref: '#/Txt'"))
        assert done.report is not None and not done.report.ok
        assert "schemas.yaml:" in (done.report.config_error or "")
        assert "#/Say/properties/text/$ref" in (done.report.config_error or "")


async def test_mockws_serve_asyncapi_without_a_config(tmp_path: Path) -> None:
    process, lines = await start_serve(
        "--asyncapi", str(DOCS / "ticker.yaml"), "--port", "0", "--no-reload", cwd=tmp_path
    )
    async with killed_on_exit(process):
        url = next(line.split()[1] for line in lines if "/market/ticker/" in line)
        assert any("plays AsyncAPI channel ticker/{symbol}" in line for line in lines)
        async with aiohttp.ClientSession() as http:
            socket = await http.ws_connect(url.replace("{symbol}", "ACME"))
            message = await asyncio.wait_for(socket.receive_json(), 5)
            assert message == {"symbol": "ACME", "price": 10.5}
            await socket.close()
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def run_check(*args: str, cwd: Path = ROOT) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mockws",
        "check",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_mockws_check_asyncapi_lists_channels_operations_and_problems(
    write: WriteFile,
) -> None:
    code, out, _ = await run_check("--asyncapi", str(DOCS / "chat.yaml"))
    assert code == 0
    assert "AsyncAPI 3.0.0, 1 WebSocket channel(s), 2 file(s)" in out
    assert "/api/chat/{room}  channel room" in out
    assert "receive sendMessage: validates say, replies said" in out
    assert "send    greet: pushes welcome on connect" in out
    write(
        "bad-example.yaml",
        """
        asyncapi: 2.6.0
        info: {title: t, version: '1'}
        channels:
          /feed:
            subscribe:
              message:
                payload: {type: object, required: [id]}
                examples:
                  - payload: {name: no id}
        """,
    )
    code, out, _ = await run_check("--asyncapi", "bad-example.yaml", cwd=write("x", "").parent)
    assert code == 0
    assert "warning: bad-example.yaml#/channels/~1feed/subscribe/message/examples/0" in out
    assert "'id' is a required property [required]" in out


async def test_a_broken_document_names_file_line_and_pointer(write: WriteFile) -> None:
    write(
        "api.yaml",
        """
        asyncapi: 3.0.0
        info: {title: t, version: '1'}
        channels:
          room:
            address: /room
            messages:
              hello:
                $ref: 'messages.yaml#/hello'
        """,
    )
    write(
        "messages.yaml",
        """
        hello:
          payload:
            $ref: '#/schemas/Missing'
        schemas: {}
        """,
    )
    folder = write("x", "").parent
    code, _, err = await run_check("--asyncapi", "api.yaml", cwd=folder)
    assert code == 2
    assert err.strip().startswith("mockws: messages.yaml:3: #/hello/payload/$ref:")
    assert "'#/schemas/Missing'" in err
    write("mockws.yaml", "asyncapi: api.yaml\n")
    code, _, err = await run_check(cwd=folder)
    assert code == 2 and "messages.yaml:3: #/hello/payload/$ref:" in err


async def test_a_config_file_with_a_document_reloads_on_a_spec_edit(write: WriteFile) -> None:
    """With a config file, editing only the document applies it; the config stays as it is."""
    folder = write("x", "").parent
    shutil.copy(DOCS / "ticker.yaml", folder / "ticker.yaml")
    write("h.py", "async def on_message(conn, data):\n    await conn.send({'echo': data})\n")
    config = write(
        "mockws.yaml",
        """
        asyncapi: ticker.yaml
        endpoints:
          - pattern: /echo
            handler: h.py
        """,
    )
    async with run_server(config, reload=True) as server:
        old = await server.connect("/market/ticker/ACME")
        assert (await old.receive_json())["price"] == 10.5
        async with server.reloaded() as done:
            text = (folder / "ticker.yaml").read_text().replace("price: 10.5}", "price: 99}")
            (folder / "ticker.yaml").write_text(text)
        assert done.report is not None and done.report.ok, done.report
        new = await server.connect("/market/ticker/ACME")
        assert (await new.receive_json())["price"] == 99
        assert not old.closed  # open connections keep the document they started with
        echo = await server.connect("/echo")
        await echo.send("hi")
        assert await echo.receive_json() == {"echo": "hi"}


async def test_mockws_check_lists_the_channels_of_a_config_document(write: WriteFile) -> None:
    folder = write("x", "").parent
    shutil.copy(DOCS / "ticker.yaml", folder / "ticker.yaml")
    write("mockws.yaml", "asyncapi: {file: ticker.yaml, validate: reject}\n")
    code, out, err = await run_check(cwd=folder)
    assert code == 0, err
    assert "/market/ticker/{symbol}  (no handler)" in out
    assert "plays AsyncAPI channel ticker/{symbol}" in out and "validate: reject" in out


async def test_rules_on_a_spec_channel_are_validated_too(
    write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """Rules serve a spec channel: what they answer is checked, what they get was checked first."""
    folder = write("x", "").parent
    shutil.copy(DOCS / "chat.yaml", folder / "chat.yaml")
    shutil.copy(DOCS / "schemas.yaml", folder / "schemas.yaml")
    config = {
        "endpoints": [
            {
                "pattern": "/api/chat/{room}",
                "asyncapi": {"file": "chat.yaml", "channel": "room", "validate": "reject"},
                "on_connect": [{"send": {"type": "welcome", "motd": "from a rule"}}],
                "rules": [
                    {
                        "match": {"type": "say", "text": "oops"},
                        "reply": {"type": "said", "requestId": "{{ data.requestId }}"},
                    },
                    {
                        "match": {"type": "say"},
                        "reply": {"type": "said", "requestId": "{{ data.requestId }}", "ok": True},
                    },
                ],
            }
        ]
    }
    async with run_server(config, base_dir=folder) as server:
        events = invalid_events(server)
        client = await server.connect("/api/chat/lobby", query={"user": "ann"})
        assert await client.receive_json() == {"type": "welcome", "motd": "from a rule"}
        await client.send({"type": "say", "requestId": "q1", "text": "hi"})
        assert await client.receive_json() == {"type": "said", "requestId": "q1", "ok": True}
        with caplog.at_level(logging.WARNING, logger="mockws.asyncapi"):
            await client.send({"type": "say", "requestId": "q2", "text": "oops"})
            assert await client.receive_json() == {"type": "said", "requestId": "q2"}
        assert "outgoing message breaks the AsyncAPI spec" in caplog.text
        assert [p["keyword"] for p in events[-1]["problems"]] == ["required"]
        # Reject mode stops an invalid message before the rules see it.
        await client.send({"type": "say", "requestId": "q3"})
        assert (await client.receive_json())["error"] == "invalid message"
        await client.expect_no_message(0.2)
