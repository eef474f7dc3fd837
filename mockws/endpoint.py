"""The running form of one configured endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from .config import EndpointConfig
from .handlers import HandlerSlot

__all__ = ["Endpoint"]


@dataclass(eq=False)
class Endpoint:
    """An endpoint's validated config and its loaded handler.

    Attributes:
        config: The endpoint's settings; replaced when the config reloads.
        handler: The handler module, swapped in place on reload.
    """

    config: EndpointConfig
    handler: HandlerSlot

    @property
    def pattern(self) -> str:
        """The endpoint's URL pattern as configured."""
        return self.config.pattern
