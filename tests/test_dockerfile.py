"""The Dockerfile: a non-root image whose command is a valid `mockws serve` (docs/docker.md).

Building the image needs a Docker daemon and a registry for the base image;
these tests check what can be checked without them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mockws.cli import main
from mockws.config.load import load_config

from .helpers import ROOT, WriteFile

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.+)$", DOCKERFILE, re.M)


def test_runs_as_a_non_root_user_from_a_slim_base() -> None:
    """One FROM, a slim Python base, and a USER that is not root before the command."""
    assert len(instruction("FROM")) == 1 and "slim" in instruction("FROM")[0]
    users = instruction("USER")
    assert users and users[-1] not in ("root", "0")
    assert DOCKERFILE.index("USER") < DOCKERFILE.index("CMD")


def test_command_is_mockws_serve_on_all_interfaces_with_the_mounted_config() -> None:
    """The CMD parses as `mockws serve` options: --config /mock/mockws.yaml --host 0.0.0.0."""
    command = json.loads(instruction("CMD")[0])
    assert command[:2] == ["mockws", "serve"]
    context = main.make_context("mockws", command[1:])
    sub = main.get_command(context, "serve")
    assert sub is not None
    parsed = sub.make_context("serve", command[2:]).params
    assert parsed["config_path"] == "/mock/mockws.yaml"
    assert parsed["host"] == "0.0.0.0"


def test_dockerignore_keeps_the_context_to_the_package() -> None:
    """Only what `pip install .` needs goes into the build context."""
    lines = (ROOT / ".dockerignore").read_text().split()
    assert lines[lines.index("*") :][:4] == ["*", "!pyproject.toml", "!README.md", "!mockws/"]


@pytest.mark.parametrize(("token", "expected"), [("", None), ("s3cret", "s3cret")])
def test_the_documented_token_line_makes_the_token_optional(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch, token: str, expected: str | None
) -> None:
    """`admin_token: ${MOCKWS_ADMIN_TOKEN:-}`: unset or empty means none (admin off on 0.0.0.0)."""
    text = (ROOT / "docs" / "docker.md").read_text()
    block = re.search(r"```yaml\n(# /mock/mockws.yaml.*?)```", text, re.S)
    assert block is not None
    write("handlers/app.py", "")
    monkeypatch.setenv("MOCKWS_ADMIN_TOKEN", token)
    config = load_config(write("mockws.yaml", block.group(1)))
    assert config.admin_token == expected
    assert isinstance(Path(config.base_dir), Path)
