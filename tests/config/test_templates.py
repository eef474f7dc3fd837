"""Config templates: compiling, the native-type rule, names, errors (mockws/config/templates.py)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from mockws.config.template_names import Names, base_names, environment_subset
from mockws.config.templates import compile_condition, compile_value, has_template
from mockws.config.yaml_source import load_yaml
from mockws.errors import ConfigError, TemplateRenderError

SOURCE = load_yaml("reply: x\n", Path("dev.yaml"))[1]


def render(value: Any, **names: Any) -> Any:
    return compile_value(value, "reply", SOURCE).render(base_names().child(**names))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ data }}", {"a": [1, 2]}),
        ("{{ data.a }}", [1, 2]),
        ("{{ data.a[1] + 1 }}", 3),
        ("{{ [1, 2, 3] }}", [1, 2, 3]),
        ("{{ data.a | length > 1 }}", True),
        ("{{ none }}", None),
        ("n={{ data.a[0] }}", "n=1"),
        ("{{ data.a[0] }}{{ data.a[1] }}", "12"),
        (" {{ data.a[0] }}", " 1"),
        ({"x": "{{ data.a[0] }}", "y": ["{{ data.a }}", "k"]}, {"x": 1, "y": [[1, 2], "k"]}),
        ("{{ data['a'] }}", [1, 2]),
        ("plain", "plain"),
        (5, 5),
    ],
)
def test_native_type_rule(value: Any, expected: Any) -> None:
    """A string that is exactly one {{ }} keeps its type; any other text renders to a string."""
    assert render(value, data={"a": [1, 2]}) == expected


def test_a_mapping_key_comes_before_a_dict_method() -> None:
    """data.items is the message's items, not dict.items (templates mostly read JSON)."""
    assert render("{{ data.items }}", data={"items": [1]}) == [1]
    assert render("{{ data.items | length }}", data={"items": [1, 2]}) == 2


def test_constant_containers_render_as_fresh_copies() -> None:
    """What a rule renders from a constant is a new object every time (set: into conn.state)."""
    template = compile_value({"a": [1]}, "set", SOURCE)
    first = template.render({})
    first["a"].append(2)
    assert template.constant and template.render({}) == {"a": [1]}


def test_base_names() -> None:
    """now is ISO 8601 UTC, now_ms milliseconds, uuid a UUID4, env only what template_env lists."""
    template = compile_value(["{{ now }}", "{{ now_ms }}", "{{ uuid }}", "{{ env }}"], "k", SOURCE)
    now, now_ms, made, env = template.render(base_names({"SHOWN": "yes"}))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", now)
    assert isinstance(now_ms, int) and now_ms > 1_700_000_000_000
    assert uuid.UUID(made).version == 4
    assert env == {"SHOWN": "yes"}


def test_a_name_is_computed_once_per_names() -> None:
    """Two {{ uuid }} in one render are the same; another Names gives another."""
    template = compile_value(["{{ uuid }}", "{{ uuid }}"], "k", SOURCE)
    first, second = template.render(base_names())
    assert first == second and template.render(base_names())[0] != first


def test_environment_subset_reads_only_the_listed_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """template_env names what templates may read; the rest of the environment stays out."""
    monkeypatch.setenv("MOCKWS_LISTED", "a")
    monkeypatch.setenv("MOCKWS_SECRET", "b")
    monkeypatch.delenv("MOCKWS_UNSET", raising=False)
    env = environment_subset(["MOCKWS_LISTED", "MOCKWS_UNSET"])
    assert env == {"MOCKWS_LISTED": "a"}
    with pytest.raises(TemplateRenderError, match="MOCKWS_SECRET"):
        compile_value("{{ env.MOCKWS_SECRET }}", "k", SOURCE).render(base_names(env))


def test_callers_add_names_and_functions() -> None:
    """Names.child adds values and functions; a subclass may compute its own names."""

    class WithUser(Names):
        def compute(self, key: str) -> Any:
            return "ada" if key == "user" else super().compute(key)

    names = WithUser().child(shout=lambda text: text.upper())
    assert render("{{ shout('hi') }}", shout=lambda text: text.upper()) == "HI"
    assert compile_value("{{ shout(user) }}", "k", SOURCE).render(names) == "ADA"
    assert "user" not in Names() and "now" in Names()


def test_template_names_and_equality() -> None:
    """A template knows the names it reads; equal when written the same."""
    template = compile_value(
        {"a": "{{ data.x }}", "b": "{{ seq + conn.id | length }}"}, "k", SOURCE
    )
    assert template.names == {"data", "seq", "conn"}
    assert template == compile_value(
        {"a": "{{ data.x }}", "b": "{{ seq + conn.id | length }}"}, "j", SOURCE
    )
    assert template != compile_value({"a": "{{ data.y }}"}, "k", SOURCE)
    assert has_template(["x", {"y": "{% if 1 %}"}]) and not has_template({"y": "{ x }"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ data.missing }}", "the mapping has no attribute 'missing'"),
        ("{{ nothing }}", "'nothing' is undefined"),
        ("{{ data.a - 1 }}", "TypeError"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("x {{ nothing }}", "'nothing' is undefined"),
        ("{{ data.a.upper }}", "not JSON data"),
    ],
)
def test_render_errors_name_file_line_and_key(value: str, message: str) -> None:
    """Every render failure is one TemplateRenderError that names the template's file:line: key."""
    with pytest.raises(TemplateRenderError) as caught:
        render(value, data={"a": "text"})
    assert str(caught.value).startswith("dev.yaml:1: reply: ")
    assert message in str(caught.value)


def test_a_default_or_defined_test_handles_a_missing_key() -> None:
    """Strict names, with the usual ways to test for a missing key."""
    assert render("{{ data.x | default(7) }}", data={}) == 7
    assert render("{{ data.x is defined }}", data={}) is False


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{{ x", "template syntax error on line 1 of the template: unexpected end of template"),
        ("a\nb\n{{ x | nofilter }}", "on line 3 of the template: No filter named 'nofilter'"),
        ("one\n{% for x in %}", "on line 2 of the template: Expected an expression"),
        ("{{ x._private }}", "'_private' on line 1 of the template: names that start with '_'"),
        ("{{ ''.__class__ }}", "names that start with '_' are not allowed"),
    ],
)
def test_compile_errors_give_the_line_inside_the_string(value: str, message: str) -> None:
    """A template that does not compile is a ConfigError at file:line: key, with the line inside."""
    with pytest.raises(ConfigError) as caught:
        compile_value({"text": value}, "reply", SOURCE)
    assert str(caught.value).startswith("dev.yaml:1: reply.text: "), str(caught.value)
    assert message in str(caught.value)


def test_conditions() -> None:
    """when: takes {{ expr }}, a bare expression, or true/false; other text is an error."""
    names = {"data": {"text": "abc", "n": 4}}
    assert compile_condition("{{ data.text | length < 5 }}", "when", SOURCE).test(names)
    assert not compile_condition("data.n > 10", "when", SOURCE).test(names)
    assert compile_condition(True, "when", SOURCE).test({})
    assert compile_condition("data.text", "when", SOURCE).test(names)
    for bad in ("a {{ b }}", 3, ""):
        with pytest.raises(ConfigError, match="when: expected"):
            compile_condition(bad, "when", SOURCE)
