"""The running form of one configured endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .config import EndpointConfig
from .handlers import HandlerSlot
from .logs import SECRET_QUERY_PARAMS, mask_query

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

    def mask(self, path_qs: str) -> str:
        """Return ``path_qs`` with secret query values masked, this endpoint's token included."""
        names: frozenset[str] = SECRET_QUERY_PARAMS
        if self.auth is not None and self.auth.query_param:
            names = names | {self.auth.query_param}
        return mask_query(path_qs, names)
