"""The aiohttp app: one upgrade becomes one session.

- :mod:`~mockws.server.app`: :class:`MockServer`, its lifecycle and config apply.
- :mod:`~mockws.server.listener`: the listening socket and the per-connection guard.
- :mod:`~mockws.server.router`: pure path -> endpoint matching.
- :mod:`~mockws.server.handshake`: admission before the upgrade (origins, limits).
- :mod:`~mockws.server.session`: one connection's life, from upgrade to unregistration.
- :mod:`~mockws.server.endpoints`: the running form of each endpoint, with its stages.
- :mod:`~mockws.server.reconfig`: the pure plan for applying an edited config.
- :mod:`~mockws.server.background`: each handler module's ``background`` task.
- :mod:`~mockws.server.aiohttp_compat`: every reliance on aiohttp's internals.
"""
