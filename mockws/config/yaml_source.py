"""Read YAML into plain data while remembering the line of every key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["MAX_EXPANDED_NODES", "SourceMap", "load_yaml"]

# Nodes a document may have once every alias is expanded. A real config has a
# few hundred; nine lines of nested aliases (an "alias bomb") expand to 9^9.
MAX_EXPANDED_NODES = 100_000


@dataclass
class SourceMap:
    """Maps a key path such as ``endpoints[1].heartbeat`` to its line.

    A path with no line of its own falls back to its nearest ancestor's, so a
    missing key is reported where its parent mapping starts.
    """

    file: Path | None = None
    lines: dict[str, int] = field(default_factory=dict)
    default_line: int | None = None

    def line_of(self, key: str) -> int | None:
        """Return the line recorded for ``key`` or its closest ancestor."""
        while True:
            if key in self.lines:
                return self.lines[key]
            cut = max(key.rfind("."), key.rfind("["))
            if cut <= 0:
                return self.lines.get(key, self.default_line)
            key = key[:cut]

    def error(self, key: str, message: str) -> ConfigError:
        """Build a ConfigError for ``key`` that names this file and line."""
        return ConfigError(message, file=self.file, line=self.line_of(key), key=key or None)


def _child(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _record(node: yaml.Node, path: str, source: SourceMap) -> None:
    source.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = _child(path, key)
            if key in seen:
                raise ConfigError(
                    "key is given twice in the same mapping",
                    file=source.file,
                    line=key_node.start_mark.line + 1,
                    key=child,
                )
            seen.add(key)
            source.lines[child] = key_node.start_mark.line + 1
            _record(value_node, child, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[_child(path, index)] = item.start_mark.line + 1
            _record(item, _child(path, index), source)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, file: Path | None) -> None:
    """Refuse a document whose aliases refer to themselves or expand past the limit.

    Aliases share one node, so the graph is small even when its expansion is
    huge: the expanded size of each node is counted once (memoised, without
    recursion), before anything is built from it.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > MAX_EXPANDED_NODES:
                raise ConfigError(
                    f"the document expands to more than {MAX_EXPANDED_NODES:,} values through "
                    "its aliases (*name): refusing it",
                    file=file,
                    line=node.start_mark.line + 1,
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(
                "an alias (*name) refers to the value that contains it",
                file=file,
                line=node.start_mark.line + 1,
            )
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            child_key = id(child)
            if child_key in on_path:
                raise ConfigError(
                    "an alias (*name) refers to the value that contains it",
                    file=file,
                    line=child.start_mark.line + 1,
                )
            if child_key not in sizes:
                stack.append((child, False))


def load_yaml(text: str, file: Path | None) -> tuple[Any, SourceMap]:
    """Parse ``text`` and return its data with the line of every key.

    Raises:
        ConfigError: The text is not valid YAML (with the parser's line), a
            mapping repeats a key, an alias refers to its own container, or
            the aliases expand past :data:`MAX_EXPANDED_NODES` values.
    """
    source = SourceMap(file=file, default_line=1)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, file)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is not None:
        _record(node, "", source)
    return data, source
