"""Step helpers: template names of a connection, room names (mockws/hooks/steps.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockws.config.templates import compile_value
from mockws.config.yaml_source import SourceMap
from mockws.errors import TemplateRenderError
from mockws.hooks.steps import ConnNames, room_names

SOURCE = SourceMap(file=Path("dev.yaml"))


def test_names_without_a_connection_have_no_conn() -> None:
    """A timed push has seq and the base names, and no conn."""
    names = ConnNames(None, {"A": "1"}, seq=3)
    assert names["seq"] == 3 and names["env"] == {"A": "1"}
    assert "conn" not in names and "data" not in names


def test_room_names_render_a_name_or_a_list() -> None:
    """join: takes one name or a list; numbers become names; empty or odd values fail."""
    assert room_names(compile_value("{{ data.r }}", "join", SOURCE), {"data": {"r": "a"}}) == ["a"]
    assert room_names(compile_value(["x", "{{ data.n }}"], "join", SOURCE), {"data": {"n": 2}}) == [
        "x",
        "2",
    ]
    for bad in ("", None, {"a": 1}):
        with pytest.raises(TemplateRenderError, match="room name"):
            room_names(compile_value("{{ data.r }}", "join", SOURCE), {"data": {"r": bad}})
