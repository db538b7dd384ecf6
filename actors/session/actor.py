"""The SessionActor: one per signed-in user, shared by all of that user's open sockets.

It serialises everything that concerns one user's live presence — requests that need the user's
session, pushes to all of their sockets with per-stream sequence numbers, sign-outs — so none of
that needs locks. What must outlive a crash of the actor (the set of open sockets, stream sequence
numbers) lives in :class:`UserSession`, owned by the :class:`~actors.session.directory.SessionDirectory`
— the way an Erlang process keeps crash-surviving state in a table its supervisor owns. The actor
itself holds only what it can rebuild.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from actors.actor import Actor
from protocol.codec import encode_push
from protocol.errors import CloseCode


class Socket(Protocol):
    """What a session needs from one of its sockets (implemented by ``Connection``)."""

    id: int
    token_hash: bytes | None

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
    """Deliver an event to every socket of the user, numbered on ``stream``."""

    stream: str
    type: str
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SignOut:
    """Close the sockets signed in with ``token_hash`` (all sockets when it is ``None``)."""

    token_hash: bytes | None
    reason: str
    except_socket: int | None = None


@dataclass(frozen=True, slots=True)
class SocketsChanged:
    """A socket attached or detached: re-evaluate the idle timer."""


@dataclass(frozen=True, slots=True)
class _IdleCheck:
    pass


# ----------------------------------------------------------------------------- the actor


class SessionActor(Actor):
    def __init__(self, session: UserSession, idle_s: float, on_idle: Callable[[UserSession], None]) -> None:
        self.session = session
        self._idle_s = idle_s
        self._on_idle = on_idle
        self._idle_timer: trio.CancelScope | None = None

    async def on_start(self) -> None:
        self._rearm_idle_timer()

    async def handle(self, message: Any) -> Any:
        match message:
            case SessionRequest():
                return self._answer(message)
            case Push(stream, type_, body):
                self._push(stream, type_, body)
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

    def inspect(self) -> dict[str, Any]:
        return {"user_id": self.session.user_id, "sockets": len(self.session.sockets)}

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

    def _sign_out(self, message: SignOut) -> None:
        targets = [
            s
            for s in self.session.sockets
            if (message.token_hash is None or s.token_hash == message.token_hash)
            and s.id != message.except_socket
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
