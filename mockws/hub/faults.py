"""Network faults at run time: each connection's, and each endpoint's.

A connection with faults has a :class:`ConnectionFaults` between its outbound
seam (``Connection._write``, which sends and broadcasts both pass) and its
outbox: it loses messages (``drop``), holds them back (``latency``, order
kept), stops writing (``stall``) or ends the connection (``disconnect``). A
connection without faults has none, and pays one ``is None`` check.

:class:`EndpointFaults` is an endpoint's faults as they stand, from its
config or set at run time: it refuses handshakes (``refuse``), gives each new
connection its faults, and applies a change to the open ones.

Every drop, abort, stall, fault close and refusal is published on the
server's event bus (:class:`~mockws.observe.events.MessageDropped`,
:class:`~mockws.observe.events.FaultInjected`), so it shows in the inspector
and the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import replace

from ..config.durations import DurationRange
from ..config.faults import ConnectionFault, FaultsConfig, Trigger, describe_range
from ..observe.events import EventBus, FaultInjected, message_dropped
from ..wire.close import CloseCode
from ..wire.faults import DelayLine, FaultRandom, reset_on_close
from .connection import Connection

__all__ = ["ConnectionFaults", "EndpointFaults", "StallSocket", "check_codes"]

StallSocket = Callable[[Connection], None]
"""Stops a connection's socket writing (pongs, pings, close frames) and answering pings.

It needs the web server's internals, so the server provides it.
"""

_NO_FAULTS = FaultsConfig()
_Item = tuple[int, bytes, "bytes | None"]


def check_codes(faults: FaultsConfig | None) -> None:
    """Check that the close code ``faults`` would send may be sent.

    Raises:
        ValueError: The code is one RFC 6455 reserves (1004-1006, 1015, 1016-2999).
    """
    code = faults.disconnect.code if faults is not None and faults.disconnect else None
    if code is not None and not CloseCode.sendable(code):
        raise ValueError(
            f"close code {code} may not be sent: use 1000-1003, 1007-1014 or 3000-4999"
        )


class ConnectionFaults:
    """The faults of one open connection.

    Args:
        conn: The connection.
        plan: Its faults (an endpoint's, perhaps changed for this connection).
        chance: Its random draws.
        stall_socket: Silences its socket when it stalls.
    """

    __slots__ = (
        "_conn",
        "plan",
        "_random",
        "_stall_socket",
        "_line",
        "_sent",
        "_timers",
        "_task",
        "_reset_done",
        "stalled",
        "ending",
    )

    def __init__(
        self,
        conn: Connection,
        plan: FaultsConfig,
        chance: FaultRandom,
        stall_socket: StallSocket,
    ) -> None:
        self._conn = conn
        self.plan = plan
        self._random = chance
        self._stall_socket = stall_socket
        self._line: DelayLine[_Item] | None = None
        self._sent = 0
        self._timers: list[asyncio.TimerHandle] = []
        self._task: asyncio.Future[None] | None = None
        self._reset_done = False
        self.stalled = False
        self.ending = False
        self._set_line(plan.latency)
        self._arm()

    def describe(self) -> str | None:
        """Summarise this connection's faults (``stalled``, ``latency 50ms``...), None for none."""
        if self.stalled:
            return "stalled"
        return self.plan.describe() if self.plan.outbound else None

    @property
    def idle(self) -> bool:
        """True when nothing is left to do: no faults, none held back, not stalled or ending."""
        return not (self.plan.outbound or self.stalled or self.ending or self._line)

    # --- the outbound path

    def write(self, opcode: int, payload: bytes, frame: bytes | None) -> bool:
        """Take one outgoing message from ``Connection._write``.

        Returns:
            False once the connection is ending; True otherwise, also for a
            message lost on the way (the sender cannot tell, as on a real
            network).
        """
        if self.ending:
            return False
        if self.stalled:
            return True
        plan = self.plan
        if plan.drop and self._random.chance(plan.drop):
            self._dropped(opcode, payload)
            return True
        line = self._line
        if line is not None and plan.latency is not None:
            line.put((opcode, payload, frame), self._random.delay(plan.latency))
            return True
        return self._emit((opcode, payload, frame))

    def _emit(self, item: _Item) -> bool:
        if self.ending or self.stalled:
            return False
        if not self._conn.transmit(*item):
            return False
        self._sent += 1
        plan = self.plan
        if plan.disconnect is not None and plan.disconnect.after.messages == self._sent:
            self._disconnect()
        if plan.stall is not None and plan.stall.messages == self._sent:
            self.stall(f"faults.stall {plan.stall.describe()}")
        return True

    def _dropped(self, opcode: int, payload: bytes) -> None:
        conn = self._conn
        events = conn.hub.events
        if events.wants_messages:
            events.publish(message_dropped(conn.id, conn.endpoint, opcode, payload))

    def _set_line(self, latency: DurationRange | None) -> None:
        if latency is None:
            if self._line is not None:
                self._line.drain()
                self._line = None
        elif self._line is None:
            self._line = DelayLine(asyncio.get_running_loop(), self._emit)

    # --- changes

    def configure(self, plan: FaultsConfig) -> None:
        """Follow ``plan`` from now on; its triggers count from now."""
        self._cancel_timers()
        self._sent = 0
        self.plan = plan
        self._set_line(plan.latency)
        self._arm()

    def set_delivery(self, latency: DurationRange | None, drop: float | None) -> None:
        """Change this connection's latency and/or drop probability, leaving its triggers."""
        plan = self.plan
        if latency is not None:
            plan = replace(plan, latency=None if latency.high == 0 else latency)
        if drop is not None:
            plan = replace(plan, drop=drop)
        self.plan = plan
        self._set_line(plan.latency)

    def _arm(self) -> None:
        plan = self.plan
        if plan.disconnect is not None:
            self._when(plan.disconnect.after, self._disconnect)
        stall = plan.stall
        if stall is not None:
            self._when(stall, lambda: self.stall(f"faults.stall {stall.describe()}"))

    def _when(self, trigger: Trigger, action: Callable[[], None]) -> None:
        if trigger.messages == 0 or trigger.seconds == 0:
            # At once, but after the caller has finished setting the connection up.
            self._timers.append(asyncio.get_running_loop().call_later(0, action))
        elif trigger.seconds is not None:
            self._timers.append(asyncio.get_running_loop().call_later(trigger.seconds, action))

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    # --- the faults that end or silence a connection

    def _disconnect(self) -> None:
        fault = self.plan.disconnect
        assert fault is not None
        why = f"faults.disconnect {fault.after.describe()}"
        if fault.code is None:
            self.abort(why, after_queued=True)
            return
        if self.ending or self._conn.closed:
            return
        self.ending = True
        self.announce("close", f"closed with {fault.code} ({why})")
        self._task = asyncio.ensure_future(self._conn.close(fault.code, fault.reason))
        self._task.add_done_callback(_retrieve)

    def abort(self, why: str, *, after_queued: bool = False) -> None:
        """Drop the connection with a TCP reset: no close frame; a browser sees 1006.

        Args:
            why: What asked for it, for the event.
            after_queued: Let the messages queued in this loop iteration
                leave first (a ``disconnect`` after N messages sends N).
        """
        if self._reset_done:
            return
        self._reset_done = True
        self.ending = True
        self._cancel_timers()
        if self._line is not None:
            self._line.clear()
        self.announce("abort", f"TCP reset, no close frame ({why})")
        if after_queued:
            # The outbox flushes in a callback queued before this one.
            asyncio.get_running_loop().call_soon(self._reset)
        else:
            self._reset()

    def _reset(self) -> None:
        transport = self._conn.request.transport
        if transport is not None:
            reset_on_close(transport)
        self._conn.abort()

    def stall(self, why: str) -> None:
        """Stop writing to the socket and answering its pings, as a half-open peer does.

        The connection stays open and its messages still reach the handler;
        nothing it sends arrives. A client's heartbeat (a ping it expects a
        pong for) is what notices.
        """
        if self.stalled or self.ending:
            return
        self.stalled = True
        if self._line is not None:
            self._line.clear()
        self._stall_socket(self._conn)
        self.announce("stall", f"stopped writing and answering pings ({why})")

    # --- the connection's end

    def drain(self) -> bool:
        """Send what latency holds back, now (before a close frame).

        Returns:
            False when the connection is stalled: nothing can leave, not
            even a close frame.
        """
        if self.stalled:
            return False
        if self._line is not None:
            self._line.drain()
        return True

    def stop(self) -> None:
        """Cancel the timers and forget held messages: the socket has closed."""
        self._cancel_timers()
        if self._line is not None:
            self._line.clear()

    def announce(self, fault: str, detail: str) -> None:
        """Publish a :class:`FaultInjected` event for this connection (when anyone listens)."""
        conn = self._conn
        events = conn.hub.events
        if events.active:
            events.publish(
                FaultInjected(fault=fault, endpoint=conn.endpoint, conn_id=conn.id, detail=detail)
            )


def _retrieve(task: asyncio.Future[None]) -> None:
    # The session reports how the connection ended; a failed close is not news.
    if not task.cancelled():
        task.exception()


class EndpointFaults:
    """One endpoint's faults as they stand: from its config, or set at run time.

    Args:
        pattern: The endpoint's pattern.
        plan: The faults; None for none.
        stall_socket: How the server silences a connection's socket.

    Raises:
        ValueError: ``plan`` would send a close code that may not be sent.
    """

    def __init__(self, pattern: str, plan: FaultsConfig | None, stall_socket: StallSocket) -> None:
        check_codes(plan)
        self.pattern = pattern
        self._stall_socket = stall_socket
        self.plan = plan
        self._refusals_left = plan.refuse.next if plan is not None and plan.refuse else 0
        self._connections = 0

    def describe(self) -> str | None:
        """Summarise the faults, or None when there are none."""
        return self.plan.describe() if self.plan is not None else None

    def replace(self, plan: FaultsConfig | None, open_connections: Iterable[Connection]) -> None:
        """Use ``plan`` from now on, for new connections and ``open_connections``.

        The refusal count and the seeds start again. A stalled connection
        stays stalled.

        Raises:
            ValueError: ``plan`` would send a close code that may not be sent.
        """
        check_codes(plan)
        self.plan = plan
        self._refusals_left = plan.refuse.next if plan is not None and plan.refuse else 0
        self._connections = 0
        outbound = plan if plan is not None and plan.outbound else None
        for conn in open_connections:
            current = conn.faults
            if current is None:
                if outbound is not None:
                    conn.set_faults(self._new(conn, outbound))
            else:
                current.configure(outbound or _NO_FAULTS)
                self._release(conn, current)

    def refusal(self, events: EventBus) -> int | None:
        """Take one refusal if any are left: return the HTTP status to refuse with, else None."""
        if self._refusals_left <= 0 or self.plan is None or self.plan.refuse is None:
            return None
        self._refusals_left -= 1
        status = self.plan.refuse.status
        if events.active:
            left = self._refusals_left
            detail = f"refused a handshake with HTTP {status} ({left} more to refuse)"
            events.publish(FaultInjected(fault="refuse", endpoint=self.pattern, detail=detail))
        return status

    @property
    def refusals_left(self) -> int:
        """How many more handshakes will be refused."""
        return self._refusals_left

    def attach(self, conn: Connection) -> None:
        """Give a new connection this endpoint's faults, if they act on connections."""
        plan = self.plan
        if plan is not None and plan.outbound:
            conn.set_faults(self._new(conn, plan))

    def _new(self, conn: Connection, plan: FaultsConfig) -> ConnectionFaults:
        # The n-th connection since the faults were set draws from seed/n: runs
        # repeat, and two connections do not lose the same messages.
        self._connections += 1
        seed = None if plan.seed is None else f"{plan.seed}/{self._connections}"
        return ConnectionFaults(conn, plan, FaultRandom(seed), self._stall_socket)

    @staticmethod
    def _release(conn: Connection, faults: ConnectionFaults) -> None:
        # Back to the free path once a connection's faults are all gone.
        if faults.idle:
            faults.stop()
            conn.set_faults(None)

    def _of(self, conn: Connection) -> ConnectionFaults:
        current = conn.faults
        if current is None:
            current = self._new(conn, _NO_FAULTS)
            conn.set_faults(current)
        return current

    async def inject(self, conn: Connection, fault: ConnectionFault) -> list[str]:
        """Inject a run-time ``fault`` into ``conn``, one of this endpoint's connections.

        Returns:
            What was done, in words (``latency 200ms``, ``stall``...).

        Raises:
            ValueError: ``fault.close`` names a code that may not be sent.
        """
        if fault.close is not None and not CloseCode.sendable(fault.close[0]):
            raise ValueError(f"close code {fault.close[0]} may not be sent")
        done = []
        if fault.latency is not None or fault.drop is not None:
            faults = self._of(conn)
            faults.set_delivery(fault.latency, fault.drop)
            if fault.latency is not None:
                latency = fault.latency
                done.append(f"latency {describe_range(latency)}" if latency.high else "no latency")
            if fault.drop is not None:
                done.append(f"drop {fault.drop:g}")
            faults.announce("set", faults.describe() or "none")
            self._release(conn, faults)
        if fault.stall:
            self._of(conn).stall("run-time fault")
            done.append("stall")
        if fault.abort:
            self._of(conn).abort("run-time fault")
            done.append("abort")
        if fault.close is not None:
            code, reason = fault.close
            self._of(conn).announce("close", f"closed with {code} (run-time fault)")
            done.append(f"close {code}")
            await conn.close(code, reason)
        return done
