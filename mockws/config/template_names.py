"""The names a config template sees: :class:`Names` and :func:`base_names`.

See :mod:`mockws.config.templates` for how templates use them.
"""

from __future__ import annotations

import copy
import os
import time
import uuid as uuid_module
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["BASE_NAMES", "Names", "base_names", "environment_subset"]

BASE_NAMES = ("now", "now_ms", "uuid", "env")
"""The names :func:`base_names` provides."""


def environment_subset(names: Iterable[str]) -> dict[str, str]:
    """Return the environment variables named in ``names`` that are set (``template_env``)."""
    return {name: os.environ[name] for name in names if name in os.environ}


class Names(Mapping[str, Any]):
    """The names a template sees; some are computed only when a template uses them.

    Args:
        values: Names with their values (``data``, ``conn``, functions...).
        env: The variables ``env`` shows (see :func:`environment_subset`).

    A value is computed at most once per instance: two ``{{ uuid }}`` in one
    reply are the same UUID.

    Attributes:
        given: The names given, and those computed so far.
    """

    __slots__ = ("_env", "given")

    def __init__(
        self, values: Mapping[str, Any] | None = None, *, env: Mapping[str, str] | None = None
    ) -> None:
        self.given: dict[str, Any] = dict(values) if values else {}
        self._env: Mapping[str, str] = env if env is not None else {}

    @property
    def env(self) -> Mapping[str, str]:
        """The environment variables templates may read."""
        return self._env

    def child(self, **values: Any) -> Names:
        """Return a copy of these names (of the same class) with ``values`` added or replaced."""
        new = copy.copy(self)
        new.given = {**self.given, **values}
        return new

    def compute(self, key: str) -> Any:
        """Return the value of a name that was not given; a subclass adds its own.

        Raises:
            KeyError: No such name.
        """
        if key == "now":
            return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if key == "now_ms":
            return time.time_ns() // 1_000_000
        if key == "uuid":
            return str(uuid_module.uuid4())
        if key == "env":
            return dict(self._env)
        raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.given[key]
        except KeyError:
            value = self.given[key] = self.compute(key)
            return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        yield from self.given
        yield from (name for name in BASE_NAMES if name not in self.given)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def base_names(env: Mapping[str, str] | None = None) -> Names:
    """Return the names every template has: ``now``, ``now_ms``, ``uuid`` and ``env``."""
    return Names(env=env)
