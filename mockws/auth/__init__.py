"""May this upgrade become a connection.

- :mod:`~mockws.auth.base`: :class:`AuthResult`, the :class:`Authenticator`
  interface, running one safely and refusing with a close code.
- :mod:`~mockws.auth.build`: an endpoint's authenticator from its config.
- :mod:`~mockws.auth.jwt`: built-in JWT (PyJWT, loaded only for configs
  that use it); every reliance on PyJWT's internals lives there.
"""

from .base import AuthResult

__all__ = ["AuthResult"]
