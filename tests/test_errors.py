"""The exception tree and how errors read (mockws/errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockws.errors import (
    AuthError,
    ConfigError,
    HandlerError,
    InitError,
    MockwsError,
    display_path,
)


def test_every_error_is_a_mockws_error_with_its_exit_code() -> None:
    """Usage and config problems exit 2; the base class exits 1."""
    assert MockwsError.exit_code == 1
    for kind in (ConfigError, HandlerError, AuthError, InitError):
        assert issubclass(kind, MockwsError) and kind.exit_code == 2


def test_config_error_names_file_line_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """str(ConfigError) is 'file:line: key: message', relative to the working folder."""
    monkeypatch.chdir(tmp_path)
    error = ConfigError("expected a number", file=tmp_path / "dev.yaml", line=12, key="port")
    assert str(error) == "dev.yaml:12: port: expected a number"
    assert (error.message, error.line, error.key) == ("expected a number", 12, "port")
    assert str(ConfigError("bad", file=tmp_path / "dev.yaml")) == "dev.yaml: bad"
    assert str(ConfigError("bad")) == "<config>: bad"


def test_handler_error_names_file_and_line_when_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """str(HandlerError) is 'file:line: message', or the message alone without a file."""
    monkeypatch.chdir(tmp_path)
    assert str(HandlerError("boom", file=tmp_path / "h.py", line=3)) == "h.py:3: boom"
    assert str(HandlerError("boom", file=tmp_path / "h.py")) == "h.py: boom"
    assert str(HandlerError("boom")) == "boom"


def test_display_path_is_relative_below_the_working_folder_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paths below the working folder are shown relative; others as given."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert display_path(work / "handlers" / "chat.py") == str(Path("handlers", "chat.py"))
    assert display_path(tmp_path / "elsewhere.py") == str(tmp_path / "elsewhere.py")
    assert display_path(None) == "<config>"
