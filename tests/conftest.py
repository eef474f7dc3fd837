"""Fixtures shared by the test modules."""

from .helpers import project, write

__all__ = ["project", "write"]
