"""A broker on Redis: several processes and hosts share rooms, users and broadcasts.

Each process (a *node*) delivers every publication to its own connections
itself, with the hub's frame-once fan-out, and sends it once to Redis on the
narrowest channel that reaches the others:

- ``{ns}:room:{room}`` for a room broadcast (one message per listed room;
  a broadcast to several rooms carries an id so that a node subscribed to
  more than one of them delivers it once),
- ``{ns}:ep:{endpoint}`` for an endpoint broadcast,
- ``{ns}:user:{user}`` for ``send_to_user``,
- ``{ns}:node:{node}`` for one connection (the admin API's send),
- ``{ns}:all`` for a broadcast to everyone.

A node subscribes only to the rooms, endpoints and users it has local
connections for, plus ``all`` and its own node channel. A message carries
its origin node, and a node drops its own messages, so nothing is delivered
twice to the publisher's connections.

The registry lives in Redis too: the hash ``{ns}:conns:{node}`` describes
each local connection (its endpoint, user, rooms, and what the admin routes
add), and the sorted set ``{ns}:nodes`` holds each node with the time its
entries expire. A node refreshes both every ``expiry / 3`` seconds, so a
killed node's connections and rooms vanish within ``expiry``.

``publish``, ``joined`` and the rest stay synchronous for the hub (and so
for handlers): they change local state and wake one writer task, which
sends everything queued since its last round trip in one pipeline. When
Redis goes away, local delivery goes on, the loss is logged once, both the
reader and the writer reconnect with backoff, and on the way back the node
re-subscribes and rewrites its registry entries (re-announces its rooms).
Cross-process messages published while Redis was away are dropped and
counted in the log line that reports the reconnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config.broker import mask_broker_url
from ..config.model import BrokerConfig
from ..errors import MockwsError
from .broker import LocalDelivery, Publication

__all__ = [
    "BrokerUnavailable",
    "RedisBroker",
    "node_of",
    "probe",
]

log = logging.getLogger("mockws.broker")

CONNECT_TIMEOUT = 2.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 2.0
# Messages waiting for the writer; beyond this a publication is dropped and counted.
MAX_QUEUED = 100_000
# Ids of multi-room messages remembered so that a second copy is not delivered again.
SEEN_IDS = 4096
_SEP = b"\n"


class BrokerUnavailable(MockwsError):
    """The broker does not answer (or the redis package is missing)."""

    exit_code = 1


def _redis_module() -> Any:
    try:
        import redis.asyncio  # the `redis` extra; loads only for configs with a broker
    except ImportError:
        raise BrokerUnavailable(
            "broker: needs the redis package: pip install 'mockws[redis]'"
        ) from None
    return redis


# redis-py's asyncio annotations mix sync and async results: clients are Any here.
def _client(url: str) -> Any:
    redis = _redis_module()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries inside redis-py: this module reconnects itself, with its own backoff and log.
    return redis.asyncio.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, retry=Retry(NoBackoff(), 0)
    )


def node_of(conn_id: str) -> str:
    """Return the node part of a connection id made by a server on a RedisBroker."""
    node, _, _ = conn_id.rpartition("-c")
    return node


async def probe(url: str, timeout: float = CONNECT_TIMEOUT) -> str:
    """Ask the broker at ``url`` who it is; return e.g. ``"redis 7.0.15"``.

    Raises:
        BrokerUnavailable: It does not answer within ``timeout`` seconds.
    """
    client = _client(url)
    try:
        async with asyncio.timeout(timeout):
            info = await client.info("server")
    except Exception as exc:
        raise BrokerUnavailable(
            f"broker {mask_broker_url(url)} does not answer: {_describe(exc)}"
        ) from None
    finally:
        await client.aclose()
    return f"redis {info.get('redis_version', '?')}"


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


@dataclass(slots=True)
class _Member:
    endpoint: str
    user: str | None = None
    rooms: set[str] = field(default_factory=set)


class RedisBroker:
    """Carries publications and the connection registry through one Redis server.

    Args:
        url: ``redis://host:port/db``.
        expiry: Seconds this node's registry entries outlive its last refresh.
        namespace: Prefix of every key and channel.
        node: This process's name (connection ids start with it); random by default.

    Attributes:
        node: This process's name in the cluster.
        describe: Returns extra fields describing a local connection for the
            registry (the admin routes set it); None for the bare fields.
    """

    def __init__(
        self,
        url: str,
        *,
        expiry: float = BrokerConfig.expiry,
        namespace: str = BrokerConfig.namespace,
        node: str | None = None,
    ) -> None:
        self.url = url
        self.node = node or secrets.token_hex(3)
        self.describe: Callable[[str], dict[str, Any]] | None = None
        self.expiry = expiry
        self._ns = namespace
        self._local: LocalDelivery | None = None
        self._members: dict[str, _Member] = {}
        self._wanted: dict[str, int] = {}
        self._subscribed: set[str] = set()
        self._channels_dirty = False
        self._queue: deque[tuple[str, bytes]] = deque()
        self._dirty: set[str] = set()
        self._gone: set[str] = set()
        self._rewrite = True
        self._wake: asyncio.Event | None = None
        self._ready: asyncio.Event | None = None
        self._client: Any = None
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._outage = False
        self._reader_ok = False
        self._writer_ok = False
        self._dropped = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._ids = itertools.count(1)
        self._own_prefix = json.dumps([self.node])[:-1].encode() + b","
        self._static = (self._channel("all"), self._channel("node", self.node))
        self._conns_key = f"{self._ns}:conns:{self.node}"
        self._nodes_key = f"{self._ns}:nodes"

    @classmethod
    def from_config(cls, config: BrokerConfig, node: str | None = None) -> RedisBroker:
        """Build the broker a config's ``broker:`` key describes."""
        return cls(config.url, expiry=config.expiry, namespace=config.namespace, node=node)

    def __repr__(self) -> str:
        return f"<RedisBroker {mask_broker_url(self.url)} node={self.node}>"

    @property
    def connected(self) -> bool:
        """True while both the subscription and the command connection work."""
        return self._reader_ok and self._writer_ok and not self._outage

    def _channel(self, kind: str, name: str = "") -> str:
        return f"{self._ns}:{kind}:{name}" if name else f"{self._ns}:{kind}"

    # The Broker protocol: synchronous, called by the hub.

    def attach(self, local: LocalDelivery) -> None:
        """Deliver publications, this node's and others', through ``local``."""
        self._local = local

    def publish(self, publication: Publication) -> int:
        """Deliver ``publication`` to the local connections and queue it for the others."""
        local = self._local
        if local is None:
            raise RuntimeError("RedisBroker.publish before attach: give it to a Hub first")
        target = publication.target
        if target is not None:
            node = node_of(target)
            if node == self.node:
                return local.deliver(publication)
            self._send((self._channel("node", node),), publication, None)
            return 0
        reached = local.deliver(publication)
        rooms = publication.rooms
        if publication.user is not None:
            channels: tuple[str, ...] = (self._channel("user", publication.user),)
        elif rooms is not None:
            channels = tuple(self._channel("room", room) for room in dict.fromkeys(rooms))
        elif publication.endpoint is not None:
            channels = (self._channel("ep", publication.endpoint),)
        else:
            channels = self._static[:1]
        message_id = f"{self.node}:{next(self._ids)}" if len(channels) > 1 else None
        self._send(channels, publication, message_id)
        return reached

    def _send(
        self, channels: tuple[str, ...], publication: Publication, message_id: str | None
    ) -> None:
        if not channels:
            return
        if self._outage or len(self._queue) >= MAX_QUEUED:
            self._dropped += len(channels)
            return
        try:
            message = _encode(self.node, publication, message_id)
        except (TypeError, ValueError):
            # Only a Socket.IO emit can carry values JSON cannot hold (bytes).
            log.warning(
                "a Socket.IO event %r with arguments JSON cannot carry (bytes?) reached only "
                "this process's connections",
                publication.event,
            )
            return
        self._queue.extend((channel, message) for channel in channels)
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _want(self, channel: str) -> None:
        count = self._wanted.get(channel, 0)
        self._wanted[channel] = count + 1
        if not count:
            self._channels_dirty = True

    def _unwant(self, channel: str) -> None:
        count = self._wanted.get(channel, 0)
        if count <= 1:
            self._wanted.pop(channel, None)
            self._channels_dirty = True
        else:
            self._wanted[channel] = count - 1

    def _changed(self, conn_id: str) -> None:
        self._dirty.add(conn_id)
        self._poke()

    def registered(self, conn_id: str, endpoint: str) -> None:
        """Subscribe to ``endpoint``'s channel and list the connection."""
        self._members[conn_id] = _Member(endpoint)
        self._want(self._channel("ep", endpoint))
        self._gone.discard(conn_id)
        self._changed(conn_id)

    def joined(self, conn_id: str, room: str) -> None:
        """Subscribe to ``room``'s channel (the first local member) and list the membership."""
        member = self._members.get(conn_id)
        if member is None or room in member.rooms:
            return
        member.rooms.add(room)
        self._want(self._channel("room", room))
        self._changed(conn_id)

    def left(self, conn_id: str, room: str) -> None:
        """Unsubscribe from ``room``'s channel after its last local member left."""
        member = self._members.get(conn_id)
        if member is None or room not in member.rooms:
            return
        member.rooms.discard(room)
        self._unwant(self._channel("room", room))
        self._changed(conn_id)

    def user_set(self, conn_id: str, user: str | None) -> None:
        """Follow the connection's user channel, so that ``send_to_user`` finds it here."""
        member = self._members.get(conn_id)
        if member is None or member.user == user:
            return
        if member.user is not None:
            self._unwant(self._channel("user", member.user))
        member.user = user
        if user is not None:
            self._want(self._channel("user", user))
        self._changed(conn_id)

    def unregistered(self, conn_id: str) -> None:
        """Drop the connection's subscriptions and registry entry."""
        member = self._members.pop(conn_id, None)
        if member is None:
            return
        for room in member.rooms:
            self._unwant(self._channel("room", room))
        if member.user is not None:
            self._unwant(self._channel("user", member.user))
        self._unwant(self._channel("ep", member.endpoint))
        self._dirty.discard(conn_id)
        self._gone.add(conn_id)
        self._poke()

    async def start(self) -> None:
        """Connect and subscribe, before the server accepts connections.

        Raises:
            BrokerUnavailable: Redis does not answer.
        """
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()
        self._client = _client(self.url)
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT * 2):
                await self._client.ping()
                self._tasks = [
                    asyncio.create_task(self._read_loop(), name=f"mockws-broker-read-{self.node}"),
                    asyncio.create_task(
                        self._write_loop(), name=f"mockws-broker-write-{self.node}"
                    ),
                ]
                await self._ready.wait()
        except Exception as exc:
            await self.stop()
            raise BrokerUnavailable(
                f"broker {mask_broker_url(self.url)} does not answer: {_describe(exc)}"
            ) from None
        log.info("broker %s: this process is node %s", mask_broker_url(self.url), self.node)

    async def stop(self) -> None:
        """Remove this node's registry entries (when Redis answers) and disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        client = self._client
        if client is None:
            return
        self._client = None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CONNECT_TIMEOUT):
                async with client.pipeline(transaction=False) as pipe:
                    pipe.delete(self._conns_key)
                    pipe.zrem(self._nodes_key, self.node)
                    await pipe.execute()
        await self._close_pubsub()
        with contextlib.suppress(Exception):
            await client.aclose()

    # Health: one warning per outage, one line when it is over.

    def _lost(self, exc: BaseException) -> None:
        self._rewrite = True
        if not self._outage:
            self._outage = True
            log.warning(
                "broker %s went away (%s): local delivery goes on; reconnecting",
                mask_broker_url(self.url),
                _describe(exc),
            )

    def _regained(self) -> None:
        if self._outage and self._reader_ok and self._writer_ok:
            self._outage = False
            dropped, self._dropped = self._dropped, 0
            log.warning(
                "broker %s is back: %d room(s) re-announced; %d cross-process message(s)"
                " were not sent meanwhile",
                mask_broker_url(self.url),
                sum(1 for channel in self._wanted if channel.startswith(f"{self._ns}:room:")),
                dropped,
            )

    # The reader: one pub/sub connection, re-made after any failure.

    async def _read_loop(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                pubsub = await self._subscribe_all()
                self._reader_ok = True
                backoff = BACKOFF_FIRST
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._reader_ok = False
                self._lost(exc)
            await self._close_pubsub()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _subscribe_all(self) -> Any:
        assert self._client is not None
        pubsub = self._client.pubsub()
        self._pubsub = pubsub
        channels = [*self._static, *self._wanted]
        self._subscribed = set(channels)
        self._channels_dirty = False
        await pubsub.subscribe(*channels)
        if self._outage:
            # Redis may have restarted empty: the writer re-announces everything.
            self._rewrite = True
            self._poke()
        return pubsub

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _read(self, pubsub: Any) -> None:
        node_channel = self._static[1].encode()
        while True:
            message = await pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                self._dispatch(message["data"])
            elif kind == "subscribe" and message["channel"] == node_channel:
                if self._ready is not None:
                    self._ready.set()
                self._regained()

    def _dispatch(self, data: bytes) -> None:
        if data.startswith(self._own_prefix):
            return
        try:
            publication, message_id = _decode(data)
        except (ValueError, TypeError, IndexError) as exc:
            log.warning("broker: dropped a malformed message (%s): %r", exc, data[:80])
            return
        if message_id is not None:
            if message_id in self._seen:
                return
            self._seen[message_id] = None
            if len(self._seen) > SEEN_IDS:
                self._seen.popitem(last=False)
        assert self._local is not None
        self._local.deliver(publication)

    # The writer: everything queued since its last round trip, in one pipeline.

    async def _write_loop(self) -> None:
        assert self._wake is not None
        refresh_every = self.expiry / 3
        next_refresh = 0.0
        backoff = BACKOFF_FIRST
        while True:
            wait = next_refresh - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
            self._wake.clear()
            refresh = time.monotonic() >= next_refresh
            try:
                await self._flush(refresh)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._writer_ok = False
                self._lost(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                next_refresh = 0.0
                continue
            backoff = BACKOFF_FIRST
            if refresh:
                next_refresh = time.monotonic() + refresh_every
            self._writer_ok = True
            self._regained()

    async def _flush(self, refresh: bool) -> None:
        client = self._client
        assert client is not None
        await self._update_subscriptions()
        queue = self._queue
        batch = [queue.popleft() for _ in range(len(queue))]
        if self._outage and batch:
            self._dropped += len(batch)
            batch = []
        pipe = client.pipeline(transaction=False)
        for channel, message in batch:
            pipe.publish(channel, message)
        registry = self._registry_commands(pipe, refresh)
        if not batch and not registry:
            return
        try:
            await pipe.execute()
        except BaseException:
            self._dropped += len(batch)
            raise
        finally:
            await pipe.reset()

    def _entry(self, conn_id: str, member: _Member) -> bytes:
        described = self.describe(conn_id) if self.describe is not None else {}
        entry = {
            **described,
            "id": conn_id,
            "endpoint": member.endpoint,
            "user": member.user,
            "rooms": sorted(member.rooms),
            "worker": self.node,
        }
        return json.dumps(entry, ensure_ascii=False, default=str).encode()

    def _registry_commands(self, pipe: Any, refresh: bool) -> bool:
        """Queue the registry's changes on ``pipe``; return whether there were any."""
        key = self._conns_key
        if self._rewrite:
            self._rewrite = False
            self._dirty.clear()
            self._gone.clear()
            pipe.delete(key)
            if self._members:
                pipe.hset(
                    key,
                    mapping={cid: self._entry(cid, m) for cid, m in self._members.items()},
                )
            refresh = True
        elif self._dirty or self._gone:
            dirty, self._dirty = self._dirty, set()
            gone, self._gone = self._gone, set()
            entries = {
                cid: self._entry(cid, self._members[cid]) for cid in dirty if cid in self._members
            }
            if entries:
                pipe.hset(key, mapping=entries)
            if gone:
                pipe.hdel(key, *gone)
            # A new entry refreshes the expiry too: the key may not have existed.
            refresh = refresh or bool(entries)
            if not refresh:
                return bool(gone)
        if not refresh:
            return False
        now = time.time()
        pipe.expire(key, max(1, round(self.expiry)))
        pipe.zadd(self._nodes_key, {self.node: now + self.expiry})
        pipe.zremrangebyscore(self._nodes_key, "-inf", now)
        return True

    async def _update_subscriptions(self) -> None:
        pubsub = self._pubsub
        if not self._channels_dirty or pubsub is None or not self._reader_ok:
            return
        self._channels_dirty = False
        wanted = {*self._static, *self._wanted}
        add = wanted - self._subscribed
        remove = self._subscribed - wanted
        self._subscribed = wanted
        if add:
            await pubsub.subscribe(*add)
        if remove:
            await pubsub.unsubscribe(*remove)

    # The Cluster protocol: what the admin API asks.

    async def _live_nodes(self) -> list[str]:
        assert self._client is not None
        found = await self._client.zrangebyscore(self._nodes_key, time.time(), "+inf")
        return [name.decode() for name in found]

    async def remote_connections(self) -> list[dict[str, Any]]:
        """Return the registry entries of every other live node's connections.

        Raises:
            BrokerUnavailable: Redis does not answer.
        """
        if self._client is None:
            return []
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                nodes = [node for node in await self._live_nodes() if node != self.node]
                if not nodes:
                    return []
                async with self._client.pipeline(transaction=False) as pipe:
                    for node in nodes:
                        pipe.hgetall(f"{self._ns}:conns:{node}")
                    tables = await pipe.execute()
        except Exception as exc:
            raise BrokerUnavailable(f"broker does not answer: {_describe(exc)}") from None
        entries: list[dict[str, Any]] = []
        for table in tables:
            for raw in table.values():
                with contextlib.suppress(ValueError):
                    entries.append(json.loads(raw))
        return entries

    async def remote_connection(self, conn_id: str) -> dict[str, Any] | None:
        """Return another live node's connection ``conn_id``, or None.

        Raises:
            BrokerUnavailable: Redis does not answer.
        """
        node = node_of(conn_id)
        if not node or node == self.node or self._client is None:
            return None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                deadline = await self._client.zscore(self._nodes_key, node)
                if deadline is None or deadline < time.time():
                    return None
                raw = await self._client.hget(f"{self._ns}:conns:{node}", conn_id)
        except Exception as exc:
            raise BrokerUnavailable(f"broker does not answer: {_describe(exc)}") from None
        if raw is None:
            return None
        entry: dict[str, Any] = json.loads(raw)
        return entry

    async def ping(self) -> str:
        """Return ``"redis <version>"``.

        Raises:
            BrokerUnavailable: Redis does not answer.
        """
        return await probe(self.url)


def _encode(origin: str, publication: Publication, message_id: str | None) -> bytes:
    head = [
        origin,
        publication.opcode,
        publication.rooms,
        publication.endpoint,
        publication.user,
        sorted(publication.exclude),
        publication.target,
        message_id,
        # A Socket.IO emit: its event, namespace and arguments (JSON: bytes cannot cross).
        publication.event,
        publication.namespace,
        list(publication.args) if publication.event is not None else None,
    ]
    return json.dumps(head, separators=(",", ":")).encode() + _SEP + publication.payload


def _decode(data: bytes) -> tuple[Publication, str | None]:
    head, _, payload = data.partition(_SEP)
    _, opcode, rooms, endpoint, user, exclude, target, message_id, *emitted = json.loads(head)
    event, namespace, args = emitted if emitted else (None, None, None)
    publication = Publication(
        int(opcode),
        payload,
        rooms=None if rooms is None else tuple(rooms),
        endpoint=endpoint,
        user=user,
        exclude=frozenset(exclude),
        target=target,
        event=event,
        args=tuple(args or ()),
        namespace=namespace,
    )
    return publication, message_id
