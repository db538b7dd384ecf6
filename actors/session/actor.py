"""The SessionActor: one per signed-in user, shared by all of that user's open sockets.

It serialises everything that concerns one user's live presence — requests that need the user's
session, pushes to all of their sockets with per-stream sequence numbers, sign-outs — so none of
that needs locks. What must outlive a crash of the actor (the set of open sockets, stream sequence
numbers) lives in :class:`UserSession`, owned by the :class:`~actors.session.directory.SessionDirectory`
— the way an Erlang process keeps crash-surviving state in a table its supervisor owns. The actor
itself holds only what it can rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from actors.actor import Actor
from kernel.errors import Unavailable
from protocol.codec import encode_push, encode_push_packed
from protocol.errors import CloseCode

log = logging.getLogger("viora.session")


class Socket(Protocol):
    """What a session needs from one of its sockets (implemented by ``Connection``)."""

    id: int
    token_hash: bytes | None
    cursors: dict[str, int]
    """Durable streams this socket subscribed to (``stream.resume``), with the last sequence
    number it was sent. Durable pushes go only to subscribed sockets, so a socket that has just
    signed in never receives event n+5 live before its resume replays n+1…n+4."""

    def send_frame(self, frame: bytes) -> None: ...

    def close(self, code: CloseCode, reason: str) -> None: ...


@dataclass
class UserSession:
    """Crash-surviving state of one user's session (owned by the directory, written by the actor)."""

    user_id: int
    username: str
    sockets: set[Socket] = field(default_factory=set)
    sequences: dict[str, int] = field(default_factory=dict)

    def next_seq(self, stream: str) -> int:
        seq = self.sequences.get(stream, 0) + 1
        self.sequences[stream] = seq
        return seq


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """A protocol request that is answered by the user's session (``ask``)."""

    type: str
    body: dict[str, Any]
    socket: Socket


@dataclass(frozen=True, slots=True)
class Push:
    """Deliver an event to every socket of the user.

    ``seq`` is set for *durable* streams (home, notifications, dm…): the number the timeline store
    gave the entry. Such pushes are delivered in sequence order with no gap — a push that arrives
    ahead of a missing one makes the actor read the missing entries from the store first (they are
    committed: the store makes entry n visible only after every entry below it). Without ``seq``
    the stream is ephemeral (presence, typing, media progress) and numbered by the session.
    """

    stream: str
    type: str
    body: dict[str, Any]
    seq: int | None = None
    packed: bytes | None = None
    """``body`` already packed (a fan-out packs it once for all its recipients)."""


@dataclass(frozen=True, slots=True)
class SignOut:
    """Close the sockets signed in with ``token_hash`` (all sockets when it is ``None``)."""

    token_hash: bytes | None
    reason: str


@dataclass(frozen=True, slots=True)
class SocketsChanged:
    """A socket attached or detached: re-evaluate the idle timer."""


@dataclass(frozen=True, slots=True)
class _IdleCheck:
    pass


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stored entry of a durable stream, ready to send (``type``/``body`` as pushed)."""

    seq: int
    type: str
    body: dict[str, Any]


class StreamReader(Protocol):
    """Reads durable streams for replay and gap repair (the timeline store, hydrated)."""

    async def read(self, user_id: int, stream: str, after: int, limit: int) -> list[StreamEvent]:
        """Stored events with ``seq > after``, oldest first."""
        ...

    async def head(self, user_id: int, stream: str) -> int:
        """The stream's last sequence number (0 when empty)."""
        ...


RESUME_PAGE = 200
"""Events replayed per ``stream.resume`` request; the client asks again while ``more`` is true."""


# ----------------------------------------------------------------------------- the actor


class SessionActor(Actor):
    def __init__(
        self,
        session: UserSession,
        idle_s: float,
        on_idle: Callable[[UserSession], None],
        streams: StreamReader,
    ) -> None:
        self.session = session
        self._idle_s = idle_s
        self._on_idle = on_idle
        self._streams = streams
        self._idle_timer: trio.CancelScope | None = None
        self.repairs_failed = 0

    async def on_start(self) -> None:
        self._rearm_idle_timer()

    async def handle(self, message: Any) -> Any:
        match message:
            case SessionRequest(type="stream.resume"):
                return await self._resume(message)
            case SessionRequest():
                return self._answer(message)
            case Push(stream, type_, body, None):
                self._push(stream, type_, body)
            case Push(stream, type_, body, int() as seq, packed):
                await self._push_numbered(stream, seq, type_, body, packed)
            case SignOut():
                self._sign_out(message)
            case SocketsChanged():
                self._rearm_idle_timer()
            case _IdleCheck():
                if not self.session.sockets:
                    self._on_idle(self.session)
                    self.stop()
            case _:
                raise TypeError(f"SessionActor cannot handle {type(message).__name__}")
        return None

    def handle_now(self, message: Any) -> bool:
        """Pushes that need no store read (the next number, an old one, an ephemeral stream) are
        sent inline by the fan-out (``ActorRef.tell_now``); a gap to repair goes to the mailbox."""
        if not isinstance(message, Push):
            return False
        if message.seq is None:
            self._push(message.stream, message.type, message.body)
            return True
        last = self.session.sequences.get(message.stream)
        if last is not None and message.seq > last + 1:
            return False
        if last is None or message.seq == last + 1:
            self._deliver(message.stream, StreamEvent(message.seq, message.type, message.body), message.packed)
        return True

    def inspect(self) -> dict[str, Any]:
        return {
            "user_id": self.session.user_id,
            "sockets": len(self.session.sockets),
            "repairs_failed": self.repairs_failed,
        }

    # ------------------------------------------------------------------------- requests

    def _answer(self, request: SessionRequest) -> dict[str, Any]:
        if request.type == "echo":
            return {"data": request.body.get("data")}
        if request.type == "session.info":
            return {
                "user_id": self.session.user_id,
                "actor": self.ref.path,
                "incarnation": self.ref.incarnation,
                "sockets": len(self.session.sockets),
            }
        raise ValueError(f"no session handler for {request.type!r}")

    # ------------------------------------------------------------------------- pushes

    def _push(self, stream: str, type_: str, body: dict[str, Any]) -> None:
        frame = encode_push(stream, self.session.next_seq(stream), type_, body)
        for socket in list(self.session.sockets):
            socket.send_frame(frame)

    async def _push_numbered(
        self, stream: str, seq: int, type_: str, body: dict[str, Any], packed: bytes | None
    ) -> None:
        last = self.session.sequences.get(stream)
        if last is not None and seq <= last:
            return  # already delivered (by a gap repair or a resume)
        if last is not None and seq > last + 1:
            try:
                missing = await self._streams.read(self.session.user_id, stream, last, seq - last - 1)
            except Unavailable as exc:
                # Sending this push without the missing ones would leave a gap no one repairs; not
                # sending it leaves the stream where it was, and the next push (or a resume) repairs
                # it all from the store. An outage is no reason to crash the user's session.
                self.repairs_failed += 1
                log.warning("user %s: %s gap not repaired: %s", self.session.user_id, stream, exc)
                return
            for event in missing:
                self._deliver(stream, event)
        self._deliver(stream, StreamEvent(seq, type_, body), packed)

    def _deliver(self, stream: str, event: StreamEvent, packed: bytes | None = None) -> None:
        """Send a durable event to the sockets it comes next for, and advance the session's number.

        Only a socket whose cursor is exactly ``event.seq - 1`` gets it, so what each socket is
        sent is gapless and in order whatever the others do: a socket still being replayed page by
        page (its cursor behind) is left to its replay, which reads this event from the store in
        turn; a socket resumed past the live pushes (its cursor ahead) waits for them to catch up.
        """
        if packed is None:
            frame = encode_push(stream, event.seq, event.type, event.body)
        else:
            frame = encode_push_packed(stream, event.seq, event.type, packed)
        previous = event.seq - 1
        for socket in list(self.session.sockets):
            if socket.cursors.get(stream) == previous:
                socket.send_frame(frame)
                socket.cursors[stream] = event.seq
        self.session.sequences[stream] = max(event.seq, self.session.sequences.get(stream, 0))

    async def _resume(self, request: SessionRequest) -> dict[str, Any]:
        """Subscribe one socket to a durable stream, replaying from the last number it saw
        (``after``; absent = from now), one page per request. Live pushes pass through this same
        mailbox, and reach the socket once its replay has caught up with them (see ``_deliver``)."""
        stream, socket = request.body["stream"], request.socket
        user_id = self.session.user_id
        requested = request.body.get("after")
        after = await self._streams.head(user_id, stream) if requested is None else requested
        events = await self._streams.read(user_id, stream, after, RESUME_PAGE)
        for event in events:
            socket.send_frame(encode_push(stream, event.seq, event.type, event.body))
        if events:
            last = events[-1].seq
        elif requested is None:
            last = after
        else:
            last = await self._within_head(stream, after)
        socket.cursors[stream] = last
        more = len(events) == RESUME_PAGE
        if not more:
            self._join_live(stream, socket, last)
        return {"stream": stream, "last": last, "more": more}

    async def _within_head(self, stream: str, after: int) -> int:
        """``after``, or the stream's head if that is lower: a client that claims to have seen
        numbers the stream has not reached (another site's, a store restored from a backup) starts
        from the head, instead of having the real events up to its number dropped as seen."""
        if after <= self.session.sequences.get(stream, 0):
            return after  # pushed live already, so the store has it: no need to ask
        return min(after, await self._streams.head(self.session.user_id, stream))

    def _join_live(self, stream: str, socket: Socket, last: int) -> None:
        """A socket whose replay reached the end of the stream at ``last`` joins live delivery.

        The session's number (the last event pushed live) moves up to ``last`` unless another
        socket is live at the old number: the pushes in between are still on their way to that
        one (or are repaired by the next push if they were lost), so they must not be dropped as
        already delivered. This socket then waits for them, as its cursor is past them.
        """
        live = self.session.sequences.get(stream)
        if live is None or (
            last > live
            and not any(s is not socket and s.cursors.get(stream) == live for s in self.session.sockets)
        ):
            self.session.sequences[stream] = last

    def _sign_out(self, message: SignOut) -> None:
        targets = [
            s
            for s in self.session.sockets
            if message.token_hash is None or s.token_hash == message.token_hash
        ]
        if not targets:
            return
        frame = encode_push(
            "session", self.session.next_seq("session"), "session.signed_out", {"reason": message.reason}
        )
        for socket in targets:
            socket.send_frame(frame)
            socket.close(CloseCode.SIGNED_OUT, message.reason)

    # ------------------------------------------------------------------------- idling

    def _rearm_idle_timer(self) -> None:
        """With no sockets left, stop after ``idle_s`` (a socket attaching meanwhile disarms it)."""
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self.session.sockets:
            return
        scope = trio.CancelScope()
        self._idle_timer = scope
        self.nursery.start_soon(self._idle_countdown, scope)

    async def _idle_countdown(self, scope: trio.CancelScope) -> None:
        with scope:
            await trio.sleep(self._idle_s)
            self.ref.try_tell(_IdleCheck())
