"""Exceptions raised by mockws.

Every error a user can cause derives from :class:`MockwsError`::

    MockwsError
     ├── ConfigError        a config file or value is wrong (file, line, key)
     ├── HandlerError       a handler module cannot be imported or lacks a name
     ├── AuthError          an authenticate setting cannot be used
     ├── InitError          ``mockws init`` would overwrite a file
     └── TemplateRenderError  a config template failed while it rendered (file, line, key)

Each keeps the fields a user needs to fix the problem and formats them in
``__str__``, so the CLI can print the exception as it is and exit with
:attr:`MockwsError.exit_code`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AuthError",
    "ConfigError",
    "HandlerError",
    "InitError",
    "LocatedError",
    "MockwsError",
    "TemplateRenderError",
    "display_path",
]


def display_path(path: Path | str | None) -> str:
    """Show ``path`` relative to the working folder when it lies below it."""
    if path is None:
        return "<config>"
    resolved = Path(path)
    try:
        return str(resolved.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class MockwsError(Exception):
    """Base class of every error that mockws reports to a user."""

    exit_code = 1


class LocatedError(MockwsError):
    """An error at a place in a config file: ``file:line: key: message``."""

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.key = key

    def __str__(self) -> str:
        where = display_path(self.file)
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


class ConfigError(LocatedError):
    """A config file or value is invalid.

    Attributes:
        message: What is wrong, in words a user can act on.
        file: The config file, when the config came from one.
        line: The 1-based line of the offending key, when known.
        key: The dotted path of the key, such as ``endpoints[1].heartbeat``.
    """

    exit_code = 2


class HandlerError(MockwsError):
    """A handler module could not be imported or used.

    Attributes:
        message: What went wrong.
        file: The source file at fault (the handler or a module it imports).
        line: The 1-based line in ``file``, when known.
    """

    exit_code = 2

    def __init__(
        self, message: str, *, file: Path | str | None = None, line: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        if self.file is None:
            return self.message
        where = display_path(self.file)
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"


class AuthError(MockwsError):
    """An authenticate setting cannot be used (a missing key file, say)."""

    exit_code = 2


class InitError(MockwsError):
    """``mockws init`` cannot write its starter files (one exists already)."""

    exit_code = 2


class TemplateRenderError(LocatedError):
    """A template from the config failed while it rendered (at run time, not at load).

    Attributes:
        message: What went wrong (the template's own error).
        file: The config file the template is written in.
        line: The 1-based line of the template's key, when known.
        key: The dotted path of the template's key (``endpoints[0].rules[1].reply``).
    """
