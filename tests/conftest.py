"""Fixtures shared by the test modules."""

from .helpers import project, write
from .rawws import raw_clients

__all__ = ["project", "raw_clients", "write"]
