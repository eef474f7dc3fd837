"""Fixtures shared by the test modules."""

import os

from hypothesis import settings

from .helpers import project, write
from .rawws import raw_clients
from .redisserver import redis_server

__all__ = ["project", "raw_clients", "redis_server", "write"]

# Property tests run 100 examples each; HYPOTHESIS_PROFILE=fuzz runs many more.
# No per-example deadline: CI machines are shared and timing is not the property.
settings.register_profile("default", deadline=None)
settings.register_profile("fuzz", max_examples=20_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
