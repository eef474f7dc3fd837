"""The running form of one configured endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import EndpointConfig
from .handlers import HandlerSlot

if TYPE_CHECKING:
    from .auth import Authenticator

__all__ = ["Endpoint"]


@dataclass(eq=False)
class Endpoint:
    """An endpoint's validated config and its loaded handler.

    Attributes:
        config: The endpoint's settings; replaced when the config reloads.
        handler: The handler module, swapped in place on reload.
        auth: Decides whether an upgrade may connect; None accepts all.
    """

    config: EndpointConfig
    handler: HandlerSlot
    auth: Authenticator | None = None

    @property
    def pattern(self) -> str:
        """The endpoint's URL pattern as configured."""
        return self.config.pattern
