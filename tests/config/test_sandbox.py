"""The template sandbox: escapes, sizes and the render time limit (mockws/config/sandbox.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from mockws.config.template_names import base_names
from mockws.config.templates import compile_value
from mockws.config.yaml_source import SourceMap
from mockws.errors import TemplateRenderError

SOURCE = SourceMap(file=Path("dev.yaml"))


def refused(value: str, time_limit: float = 0.1, **names: Any) -> str:
    template = compile_value(value, "reply", SOURCE)
    with pytest.raises(TemplateRenderError) as caught:
        template.render(base_names().child(**names), time_limit=time_limit)
    return str(caught.value)


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("{{ ''['__cla' ~ 'ss__'] }}", {}),
        ("{{ text[name] }}", {"text": "", "name": "__class__"}),
        ("{{ text | attr(name) }}", {"text": "", "name": "__class__"}),
        ("{{ fn | attr(name) }}", {"fn": len, "name": "__self__"}),
    ],
)
def test_computed_escapes_are_refused_at_render(value: str, names: dict[str, Any]) -> None:
    """Reaching Python internals by a computed name fails with the sandbox's refusal."""
    assert "unsafe" in refused(value, **names)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ 'a' * 10000000 }}", "longer than 1000000"),
        ("{{ [1] * 10000000 }}", "longer than 1000000"),
        ("{{ 2 ** 100000 }}", "exponent over 1000"),
        ("{{ '%099999999d' % 1 }}", "format width"),
        ("{{ '{:>99999999}'.format(1) }}", "format width"),
        ("{{ 'x'.ljust(100000000) }}", "width over"),
        ("{{ 'x' | center(100000000) }}", "width over"),
        ("{{ '%099999999d' | format(1) }}", "format width"),
        ("{{ lipsum(100000) }}", "'lipsum' is undefined"),
        ("{% include 'x.html' %}", "no loader"),
        ("{% import 'x.html' as x %}", "no loader"),
    ],
)
def test_oversized_work_is_refused(value: str, message: str) -> None:
    """One operation cannot build a huge string or number, and nothing loads other files."""
    assert message in refused(value)


def test_a_template_that_runs_too_long_stops_at_its_time_limit() -> None:
    """Nested loops with empty bodies still check the deadline: the render stops, with an error."""
    started = time.monotonic()
    message = refused(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        time_limit=0.05,
    )
    assert "time limit (0.05s)" in message
    assert time.monotonic() - started < 2.0


def test_recursion_is_a_render_error() -> None:
    """A macro that calls itself fails as a render error, not a crash."""
    assert "recursion" in refused("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")


def test_the_time_limit_does_not_leak_into_the_next_render() -> None:
    """A render after a timed-out one gets its own full time."""
    refused("{% for i in range(100000) %}{% for j in range(100) %}{% endfor %}{% endfor %}", 0.01)
    template = compile_value("{% for i in range(50) %}{{ i }}{% endfor %}", "k", SOURCE)
    assert template.render({}).startswith("0123")
