"""``mockws check --asyncapi`` and ``serve --asyncapi`` options (mockws/cli/asyncapi.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mockws.cli import main

from ..helpers import WriteFile

DOCS = Path(__file__).resolve().parent.parent / "asyncapi_docs"


def test_check_lists_the_ticker_and_exits_0() -> None:
    result = CliRunner().invoke(main, ["check", "--asyncapi", str(DOCS / "ticker.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("ticker.yaml: AsyncAPI 2.6.0, 1 WebSocket channel(s), 1 file(s)")
    assert "    handshake checks parameter symbol" in lines
    assert "    send    onTick: pushes tick every 0.2s" in lines
    assert "    receive subscribe: validates subscribe, unsubscribe" in lines
    assert lines[-1] == "  no problems found"


def test_check_prints_problems_as_warnings(write: WriteFile) -> None:
    path = write(
        "api.yaml",
        """
        asyncapi: 3.0.0
        info: {title: t, version: '1'}
        channels:
          gone: {}
        """,
    )
    result = CliRunner().invoke(main, ["check", "--asyncapi", str(path)])
    assert result.exit_code == 0
    assert "warning:" in result.output and "has no address: not served" in result.output
    assert "warning:" in result.output and "no channel to serve" in result.output


def test_a_broken_document_exits_2_with_file_line_and_pointer(write: WriteFile) -> None:
    path = write("api.yaml", "asyncapi: 3.0.0\nchannels:\n  c: {address: 5}\n")
    result = CliRunner().invoke(main, ["check", "--asyncapi", str(path)])
    assert result.exit_code == 2
    assert "api.yaml:3: #/channels/c/address: expected a string" in result.output


def test_asyncapi_and_config_together_is_a_usage_error(write: WriteFile) -> None:
    config = write("mockws.yaml", "asyncapi: api.yaml\n")
    for command in ("check", "serve"):
        result = CliRunner().invoke(
            main, [command, "--config", str(config), "--asyncapi", str(DOCS / "chat.yaml")]
        )
        assert result.exit_code == 2
        assert "not both" in result.output or "instead" in result.output
