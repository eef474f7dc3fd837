"""``mockws check --asyncapi FILE``: validate a document, list its channels and problems."""

from __future__ import annotations

from pathlib import Path

import click

from ..config.asyncapi import load_spec
from ..config.asyncapi_model import MessageSpec, OperationSpec
from ..errors import MockwsError

__all__ = ["check_document"]


def _messages(messages: tuple[MessageSpec, ...]) -> str:
    return ", ".join(message.name for message in messages) or "(none)"


def _describe(operation: OperationSpec) -> str:
    if operation.action == "send":
        when = f"every {operation.interval:g}s" if operation.interval else "on connect"
        return f"pushes {_messages(operation.messages)} {when}"
    line = f"validates {_messages(operation.messages)}"
    if operation.reply:
        line += f", replies {_messages(operation.reply)}"
    return line


def check_document(path: Path) -> int:
    """Print the document's channels, operations and problems; return the exit code.

    Returns:
        0 when the document loads (problems are warnings), 2 when it does not.
    """
    from ..hooks.validation import check_examples

    try:
        spec = load_spec(path)
        example_problems = [line for channel in spec.channels for line in check_examples(channel)]
    except MockwsError as exc:
        click.echo(f"mockws: {exc}", err=True)
        return exc.exit_code
    document = spec.document
    click.echo(
        f"{path}: AsyncAPI {document.version}, {len(spec.channels)} WebSocket channel(s), "
        f"{len(document.files)} file(s)"
    )
    for channel in spec.channels:
        click.echo(f"  {channel.pattern}  channel {channel.name} ({channel.where})")
        checks = [f"parameter {p.name}" for p in channel.parameters if p.schema is not None]
        if channel.query is not None:
            checks.append("query")
        if checks:
            click.echo(f"    handshake checks {', '.join(checks)}")
        for operation in channel.operations:
            click.echo(f"    {operation.action:<7} {operation.name}: {_describe(operation)}")
    problems = list(dict.fromkeys([*document.problems, *example_problems]))
    for problem in problems:
        click.echo(f"  warning: {problem}")
    if not problems:
        click.echo("  no problems found")
    return 0
