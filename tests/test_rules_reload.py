"""Hot reload of declarative rules: open connections use the new rules from their next message."""

from __future__ import annotations

from pathlib import Path

from mockws.testing import run_server

from .helpers import WriteFile

CONFIG = """
endpoints:
  - pattern: /r
    script:
      - expect: {match: {type: go}}
      - send: {script: VERSION}
    rules:
      - match: {type: ping}
        reply: {pong: VERSION}
"""


async def test_editing_rules_applies_to_an_open_connection(write: WriteFile, project: Path) -> None:
    """Save new rules: the same socket gets the new answer; its running script keeps its steps."""
    path = write("mockws.yaml", CONFIG.replace("VERSION", "1"))
    async with run_server(path, reload=True) as server:
        client = await server.connect("/r")
        await client.send({"type": "ping"})
        assert await client.receive() == {"pong": 1}
        async with server.reloaded() as done:
            path.write_text(CONFIG.replace("VERSION", "2").lstrip(), encoding="utf-8")
        assert done.report is not None and done.report.ok, done.report
        await client.send({"type": "ping"})
        assert await client.receive() == {"pong": 2}
        await client.send({"type": "go"})
        assert await client.receive() == {"script": 1}  # started before the edit
        fresh = await server.connect("/r")
        await fresh.send({"type": "go"})
        assert await fresh.receive() == {"script": 2}
        assert not client.closed


async def test_a_broken_edit_keeps_the_running_rules(write: WriteFile, project: Path) -> None:
    """A rule error in the edited file is reported and the previous rules keep serving."""
    path = write("mockws.yaml", CONFIG.replace("VERSION", "1"))
    async with run_server(path, reload=True) as server:
        client = await server.connect("/r")
        async with server.reloaded() as done:
            path.write_text(CONFIG.replace("VERSION", '"{{ dta }}"').lstrip(), encoding="utf-8")
        assert done.report is not None and not done.report.ok
        assert "template name 'dta' does not exist here" in (done.report.config_error or "")
        await client.send({"type": "ping"})
        assert await client.receive() == {"pong": 1}
