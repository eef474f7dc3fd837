"""The servers the suite measures; each runs as its own process.

Every server does the same work: on ``/echo`` it parses each text message as
JSON, encodes it again and sends it back; on ``/room`` every connection is a
member of one room, and each text message is parsed, encoded once and sent
to every other member. Each prints ``READY <port>`` once it listens.
"""
