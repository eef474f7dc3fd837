"""Templates in config values: Jinja2 in its sandbox, compiled once at load.

Any config value may hold templates: a string with ``{{ ... }}`` or
``{% ... %}`` in it, or a mapping or list with such strings anywhere inside.
:func:`compile_value` turns the value into a :class:`Template` when the
config loads (a syntax error is a :class:`~mockws.errors.ConfigError` that
names file, line and key, and the line inside the string);
:meth:`Template.render` gives the value for a set of names at run time.

The public surface, used by rules (``config/rules.py``), HTTP routes,
AsyncAPI and Socket.IO endpoints alike:

- ``compile_value(value, key, source) -> Template``; ``Template.render(names) -> Any``.
- ``compile_condition(value, key, source) -> Condition``; ``Condition.test(names) -> bool``
  (``when:`` keys: ``"{{ data.n > 3 }}"``, a bare expression, or true/false).
- :class:`Names`: the names a template sees. ``base_names(env)`` gives
  ``now`` (ISO 8601, UTC), ``now_ms`` (Unix milliseconds), ``uuid`` (a new
  UUID4) and ``env`` (only the variables that the top-level ``template_env``
  lists; :func:`environment_subset` reads them). Each is computed on first
  use and stays the same for the rest of one :class:`Names` (one message).
  Callers add their own names and functions with :meth:`Names.child`
  (``names.child(data=..., token=make_token)``) or a subclass that
  overrides :meth:`Names.compute`.
- Every failure while rendering raises :class:`~mockws.errors.TemplateRenderError`
  with the template's file, line and key.

Rules of rendering:

- **Native types.** A string that is exactly one ``{{ ... }}`` renders to the
  expression's own value: ``"{{ data.n }}"`` is a number, ``"{{ [1, 2] }}"`` a
  list. Any other string with a template in it renders to a string.
  Mappings and lists render item by item; keys stay as written.
- **Strict names.** Using a name or key that does not exist is an error
  (``{{ data.missing }}``); ``{{ data.x is defined }}`` and
  ``{{ data.x | default(0) }}`` test for it.
- **The sandbox.** Jinja2's ``SandboxedEnvironment``: no attribute that
  starts with ``_`` (refused at load when written literally, at render when
  computed), no imports or includes (there is no template loader), no file
  or environment access beyond ``env``. Strings and lists cannot be
  multiplied or padded past :data:`~mockws.config.sandbox.MAX_SIZE`, powers are bounded, and a
  render that runs past its time limit (:data:`RENDER_TIME_LIMIT`) stops with
  an error: every loop iteration, call, attribute and item access checks it.

Jinja2 loads on the first template compiled, so configs without templates
never import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import TemplateRenderError
from .template_names import BASE_NAMES, Names, base_names, environment_subset
from .yaml_source import SourceMap

if TYPE_CHECKING:
    from jinja2 import Template as JinjaTemplate
    from jinja2 import nodes

__all__ = [
    "BASE_NAMES",
    "RENDER_TIME_LIMIT",
    "Condition",
    "Names",
    "Template",
    "base_names",
    "compile_condition",
    "compile_value",
    "environment_subset",
    "has_template",
]

RENDER_TIME_LIMIT = 0.1
"""Seconds one render may take before it stops with an error (see :mod:`.sandbox`)."""

_MARKERS = ("{{", "{%", "{#")


def has_template(value: object) -> bool:
    """Tell whether ``value`` (a string, mapping or list) holds a template anywhere."""
    if isinstance(value, str):
        return any(marker in value for marker in _MARKERS)
    if isinstance(value, Mapping):
        return any(has_template(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(item) for item in value)
    return False


# -- compiled templates --------------------------------------------------------------


class Template:
    """A config value compiled at load; :meth:`render` gives its value at run time.

    Attributes:
        value: The value as written in the config.
        names: The names the template reads (empty for a constant).
        constant: True when the value holds no template: it renders to itself.
        key: The config key the value is written under.
    """

    constant = False
    # True when rendering runs Jinja code, which the sandbox's deadline bounds.
    timed = False

    def __init__(self, value: Any, key: str, source: SourceMap, names: frozenset[str]) -> None:
        self.value = value
        self.key = key
        self.names = names
        self._source = source

    def render(self, names: Mapping[str, Any], *, time_limit: float = RENDER_TIME_LIMIT) -> Any:
        """Return the value for ``names``.

        Raises:
            TemplateRenderError: The template failed (an undefined name, a
                sandbox refusal, the time limit...), with its file, line and key.
        """
        if self.timed:
            from .sandbox import start_render

            start_render(time_limit)
        return self.evaluate(names)

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        """Return the value for ``names`` inside a render already under way (no new clock)."""
        return self.value

    def error(self, message: str) -> TemplateRenderError:
        """Build the render error of this template, naming its file, line and key."""
        return TemplateRenderError(
            message, file=self._source.file, line=self._source.line_of(self.key), key=self.key
        )

    def __eq__(self, other: object) -> bool:
        # Equal when written the same, wherever: an unchanged rule stays equal
        # across a reload (so its timer and seq survive) even if it moved.
        if not isinstance(other, Template) or type(other) is not type(self):
            return False
        return bool(other.value == self.value)

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self.value)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class _Constant(Template):
    constant = True

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        value = self.value
        # A fresh container each time: what a rule sets into conn.state is the
        # connection's own.
        if isinstance(value, (dict, list)):
            return _copy(value)
        return value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class _Container(Template):
    def __init__(
        self,
        value: Any,
        key: str,
        source: SourceMap,
        items: tuple[tuple[Any, Template], ...],
        is_mapping: bool,
    ) -> None:
        names = frozenset().union(*(item.names for _, item in items))
        super().__init__(value, key, source, names)
        self.timed = any(item.timed for _, item in items)
        self._items = items
        self._is_mapping = is_mapping

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        if self._is_mapping:
            return {name: item.evaluate(names) for name, item in self._items}
        return [item.evaluate(names) for _, item in self._items]


class _Path(Template):
    """``{{ name }}`` or ``{{ name.a.b }}``: looked up without running Jinja (the hot path)."""

    def __init__(
        self,
        value: str,
        key: str,
        source: SourceMap,
        root: str,
        path: tuple[str, ...],
    ) -> None:
        super().__init__(value, key, source, frozenset((root,)))
        self._root = root
        self._path = path

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        try:
            value = names[self._root]
        except KeyError:
            raise self.error(f"'{self._root}' is undefined") from None
        if self._path:
            from .sandbox import Undefined, lookup

            for attribute in self._path:
                found = lookup(value, attribute)
                if isinstance(found, Undefined):
                    raise self.error(f"{_describe(value)} has no attribute {attribute!r}")
                value = found
        return _native(value, self)


class _Jinja(Template):
    timed = True

    def __init__(
        self,
        value: str,
        key: str,
        source: SourceMap,
        names: frozenset[str],
        template: JinjaTemplate,
        native: bool,
    ) -> None:
        super().__init__(value, key, source, names)
        self._template = template
        self.native = native

    def evaluate(self, names: Mapping[str, Any]) -> Any:
        from .sandbox import MAX_SIZE, Refused

        variables = {name: names[name] for name in self.names if name in names}
        template = self._template
        try:
            context = template.new_context(variables)
            if self.native:
                for _ in template.root_render_func(context):
                    pass
                return _native(context.vars["result"], self)
            parts = []
            size = 0
            for part in template.root_render_func(context):
                size += len(part)
                if size > MAX_SIZE:
                    raise Refused(f"the result is longer than {MAX_SIZE} characters")
                parts.append(part)
            return "".join(parts)
        except TemplateRenderError:
            raise
        except Refused as exc:
            raise self.error(str(exc)) from None
        except RecursionError:
            raise self.error("recursion too deep") from None
        except Exception as exc:  # noqa: BLE001 - any failure of a template is a render error
            raise self.error(_describe_error(exc)) from None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "the mapping"
    if isinstance(value, list):
        return "the list"
    return f"a {type(value).__name__}"


def _describe_error(exc: Exception) -> str:
    from jinja2 import TemplateError

    if isinstance(exc, TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _native(value: Any, template: Template) -> Any:
    """Return ``value`` as JSON-shaped data; refuse what cannot be sent."""
    if value is None or isinstance(value, (str, bool, int, float, bytes)):
        return value
    if isinstance(value, dict):
        if all(type(item) in _PLAIN for item in value.values()):
            return value
        return {str(name): _native(item, template) for name, item in value.items()}
    if isinstance(value, (list, tuple, range)):
        if isinstance(value, list) and all(type(item) in _PLAIN for item in value):
            return value
        return [_native(item, template) for item in value]
    from .sandbox import Undefined

    if isinstance(value, Undefined):
        try:
            str(value)  # StrictUndefined raises its own explanation here
        except Exception as exc:  # noqa: BLE001 - the undefined's error is the message
            raise template.error(_describe_error(exc)) from None
        raise template.error("the expression is undefined")
    if isinstance(value, (set, frozenset)):
        return sorted((_native(item, template) for item in value), key=repr)
    raise template.error(f"renders a {type(value).__name__}, which is not JSON data")


_PLAIN = frozenset({str, int, float, bool, type(None)})


class Condition:
    """A compiled ``when:`` condition; :meth:`test` tells whether it holds.

    Attributes:
        template: The compiled expression.
    """

    def __init__(self, template: Template) -> None:
        self.template = template

    @property
    def names(self) -> frozenset[str]:
        """The names the condition reads."""
        return self.template.names

    def test(self, names: Mapping[str, Any], *, time_limit: float = RENDER_TIME_LIMIT) -> bool:
        """Evaluate the condition for ``names``.

        Raises:
            TemplateRenderError: The expression failed.
        """
        return bool(self.template.render(names, time_limit=time_limit))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and other.template == self.template

    def __hash__(self) -> int:
        return hash(self.template)

    def __repr__(self) -> str:
        return f"Condition({self.template.value!r})"


# -- compiling -----------------------------------------------------------------------


def compile_value(value: Any, key: str, source: SourceMap) -> Template:
    """Compile a config value that may hold templates.

    Args:
        value: A string, number, boolean, null, or a mapping or list of them.
        key: The value's config key (``endpoints[0].rules[1].reply``).
        source: Where the key's line is found.

    Raises:
        ConfigError: A template does not compile: the error names file,
            line and key, and the line inside the string.
    """
    if not has_template(value):
        return _Constant(_plain(value), key, source, frozenset())
    if isinstance(value, str):
        return _compile_string(value, key, source)
    items: tuple[tuple[Any, Template], ...]
    if isinstance(value, Mapping):
        items = tuple(
            (str(name), compile_value(item, f"{key}.{name}", source))
            for name, item in value.items()
        )
        return _Container(_plain(value), key, source, items, is_mapping=True)
    items = tuple(
        (index, compile_value(item, f"{key}[{index}]", source)) for index, item in enumerate(value)
    )
    return _Container(_plain(value), key, source, items, is_mapping=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(name): _plain(item) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def compile_condition(value: Any, key: str, source: SourceMap) -> Condition:
    """Compile a ``when:`` condition: ``"{{ expr }}"``, a bare ``expr``, or true/false.

    Raises:
        ConfigError: Not a boolean or one expression, or it does not compile.
    """
    if isinstance(value, bool):
        return Condition(_Constant(value, key, source, frozenset()))
    if not isinstance(value, str) or not value.strip():
        raise source.error(key, 'expected a condition such as "{{ data.n > 3 }}" or true')
    text = value.strip()
    if not has_template(text):
        text = "{{ " + text + " }}"
    template = _compile_string(text, key, source, display=value)
    if not isinstance(template, (_Jinja, _Path)) or (
        isinstance(template, _Jinja) and not template.native
    ):
        raise source.error(key, 'expected one expression, such as "{{ data.n > 3 }}"')
    return Condition(template)


def _compile_string(
    text: str, key: str, source: SourceMap, *, display: str | None = None
) -> Template:
    from jinja2 import TemplateSyntaxError, meta, nodes

    from . import sandbox

    environment = sandbox.environment()
    written = display or text
    try:
        tree = environment.parse(text)
        private = sandbox.private_name(tree)
        if private is not None:
            name, line = private
            raise source.error(
                key,
                f"{name!r} on line {line} of the template: names that start with '_' "
                "are not allowed in templates",
            )
        # Jinja's own globals (range, dict, namespace...) come from the environment.
        names = frozenset(meta.find_undeclared_variables(tree)) - environment.globals.keys()
        expression = _single_expression(tree)
        if expression is None:
            compiled = environment.from_string(sandbox.guard_loops(tree))
            return _Jinja(written, key, source, names, compiled, native=False)
        path = _simple_path(expression)
        if path is not None and path[0] not in environment.globals:
            return _Path(written, key, source, path[0], path[1])
        body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
        compiled = environment.from_string(sandbox.guard_loops(nodes.Template(body, lineno=1)))
        return _Jinja(written, key, source, names, compiled, native=True)
    except TemplateSyntaxError as exc:
        where = f" on line {exc.lineno} of the template" if exc.lineno else ""
        raise source.error(key, f"template syntax error{where}: {exc.message}") from None


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly one ``{{ ... }}``, else None."""
    from jinja2 import nodes

    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = tree.body[0].nodes
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    return parts[0]


def _simple_path(expression: nodes.Expr) -> tuple[str, tuple[str, ...]] | None:
    from jinja2 import nodes

    attributes: list[str] = []
    while isinstance(expression, nodes.Getattr):
        attributes.append(expression.attr)
        expression = expression.node
    if not isinstance(expression, nodes.Name) or expression.name in ("true", "false", "none"):
        return None
    return expression.name, tuple(reversed(attributes))
