"""Who is connected, their rooms, and fan-out.

- :mod:`~mockws.hub.connection`: one connection as handlers see it; the single
  outbound seam (``Connection._write``).
- :mod:`~mockws.hub.hub`: the registry of connections, rooms and users, and
  broadcast.
- :mod:`~mockws.hub.broker`: the :class:`Broker` protocol that carries
  publications between processes, and its in-process default. A Redis broker
  slots in beside it.
"""

from .broker import Broker, InProcessBroker, Publication
from .connection import Connection
from .hub import Hub

__all__ = ["Broker", "Connection", "Hub", "InProcessBroker", "Publication"]
