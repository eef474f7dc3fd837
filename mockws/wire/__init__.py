"""Bytes on the socket: encode once, frame once, cork per loop iteration, bound.

- :mod:`~mockws.wire.close`: the one close-code vocabulary (:class:`CloseCode`).
- :mod:`~mockws.wire.frames`: the opcode table and frame building.
- :mod:`~mockws.wire.codec`: handler values to payloads and back.
- :mod:`~mockws.wire.deflate`: permessage-deflate decided per message.
- :mod:`~mockws.wire.outbox`: the bounded, corked outgoing queue of a connection.
- :mod:`~mockws.wire.inbound`: limits on what a client sends (fragments, queue).
- :mod:`~mockws.wire.slowclient`: failing clients that stopped reading.

Nothing here knows aiohttp; :mod:`mockws.server.aiohttp_compat` connects it.
"""
