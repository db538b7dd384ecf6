"""Which SessionActor serves which user, and the state that survives its restarts.

The directory is the only place that maps a user to their session. A socket that signs in
*attaches* (starting the user's SessionActor under the ``sessions`` supervisor if none runs), a
socket that goes away *detaches*. Attaching is serialised by a lock so two sockets of one user
signing in at the same instant still share one actor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from actors.actor import ActorRef, actor_spec
from actors.session.actor import (
    Push,
    SessionActor,
    SignOut,
    Socket,
    SocketsChanged,
    StreamReader,
    UserSession,
)
from kernel.errors import ActorStopped
from protocol.codec import pack_body
from stores.bus import SIGN_OUT, Delivery
from supervisor import RestartType, Supervisor

RESTART_WAIT_S = 5.0
DELIVERY_SLICE = 128


class SessionDirectory:
    def __init__(
        self,
        supervisor: Supervisor,
        *,
        mailbox: int,
        idle_s: float,
        streams: StreamReader,
        on_presence: Callable[[int], object] = lambda user_id: None,
    ) -> None:
        self._supervisor = supervisor
        self._on_presence = on_presence  # a user's first socket here opened / last one closed
        self._streams = streams
        self._mailbox = mailbox
        self._idle_s = idle_s
        self._sessions: dict[int, UserSession] = {}
        self._refs: dict[int, ActorRef[SessionActor]] = {}
        self._lock = trio.Lock()
        self.skipped = 0
        """Pushes not queued because the user's SessionActor was not running (not mailbox drops,
        which its ref counts)."""

    async def attach(self, user_id: int, username: str, socket: Socket) -> ActorRef[SessionActor]:
        """Register ``socket`` as one of the user's and return the (running) SessionActor."""
        session = self._sessions.get(user_id)
        if session is None:
            session = self._sessions[user_id] = UserSession(user_id, username)
        session.sockets.add(socket)
        if len(session.sockets) == 1:
            self._on_presence(user_id)
        ref = await self.actor_for(user_id)
        ref.try_tell(SocketsChanged())  # droppable: the idle timer is re-checked on the next change
        return ref

    def detach(self, user_id: int, socket: Socket) -> None:
        session = self._sessions.get(user_id)
        if session is None:
            return
        if socket in session.sockets:
            session.sockets.discard(socket)
            if not session.sockets:
                self._on_presence(user_id)
        ref = self._refs.get(user_id)
        if ref is not None and ref.alive:
            ref.try_tell(SocketsChanged())

    async def actor_for(self, user_id: int) -> ActorRef[SessionActor]:
        """The user's running SessionActor, started if needed (e.g. after its subtree restarted).

        If it crashed and the supervisor is restarting it, wait for that restart (up to
        ``RESTART_WAIT_S``) instead of starting another: that would bypass the restart intensity.
        """
        ref = self._refs.get(user_id)
        if ref is not None and ref.alive:
            return ref  # the hot path: no lock, no allocation
        name = f"user:{user_id}"
        with trio.move_on_after(RESTART_WAIT_S):
            while True:
                async with self._lock:
                    ref = self._refs.get(user_id)
                    if ref is not None and ref.alive:
                        return ref
                    if ref is None or not self._supervisor.knows_child(name):
                        return await self._start(user_id, name, ref)
                await ref.wait_alive()  # outside the lock: other users are not held up
        raise ActorStopped(f"the session of user {user_id} did not restart in time")

    async def _start(
        self, user_id: int, name: str, ref: ActorRef[SessionActor] | None
    ) -> ActorRef[SessionActor]:
        session = self._sessions[user_id]
        spec, ref = actor_spec(
            name,
            lambda: SessionActor(session, self._idle_s, self._forget, self._streams),
            capacity=self._mailbox,
            restart=RestartType.TRANSIENT,
            path=f"{self._supervisor.path}/{name}",
            ref=ref,
        )
        await self._supervisor.start_child(spec)
        self._refs[user_id] = ref
        return ref

    async def push(
        self, user_id: int, stream: str, type_: str, body: dict[str, Any], seq: int | None = None
    ) -> bool:
        """Deliver a live event to the user's sockets, if any are open; False when not delivered.

        Live delivery only: what must survive being offline is stored first (``seq`` is then its
        number in the timeline store) and replayed on resume. Never waits: a full session mailbox
        drops the push rather than stall the sender (a fan-out serves thousands), and so does a
        session that is not running (see :meth:`_tell`). For durable streams the next push or a
        resume repairs the gap from the store.
        """
        session = self._sessions.get(user_id)
        if session is None or not session.sockets:
            return False
        return self._tell(user_id, Push(stream, type_, body, seq))

    async def deliver(self, delivery: Delivery) -> int:
        """Push a bus delivery to those of its targets online on this process.

        The hot loop of every fan-out: offline targets cost one dict lookup, the body is packed
        once for everyone, nothing waits on a session, and the loop yields every
        ``DELIVERY_SLICE`` pushes so a delivery to thousands does not hold the event loop (the
        session actors start sending meanwhile). Never raises: a publisher is not to blame for a
        session that is restarting.
        """
        if delivery.type == SIGN_OUT:
            return self._sign_out(delivery)
        packed = pack_body(delivery.body)
        delivered = 0
        for user_id, seq in delivery.targets:
            session = self._sessions.get(user_id)
            if session is None or not session.sockets:
                continue
            if self._tell(user_id, Push(delivery.stream, delivery.type, delivery.body, seq, packed)):
                delivered += 1
                if delivered % DELIVERY_SLICE == 0:
                    await trio.lowlevel.checkpoint()
        return delivered

    def _sign_out(self, delivery: Delivery) -> int:
        """A sign-out published by any process: the user's sessions here close the matching sockets."""
        message = SignOut(delivery.body["token_hash"], delivery.body["reason"])
        return sum(self._tell(user_id, message) for user_id, _seq in delivery.targets)

    def _tell(self, user_id: int, push: Push | SignOut) -> bool:
        """Queue ``push`` for the user's SessionActor without waiting; False if it was not queued.

        The mailbox belongs to the ref and outlives a crash, so a session being restarted gets the
        push on its next incarnation. One that is gone for good (its subtree was stopped) or not
        started yet is skipped rather than waited for: starting it is the next request's business
        (``actor_for``), and its durable streams are repaired by the next push or a resume.
        """
        ref = self._refs.get(user_id)
        if ref is None:
            self.skipped += 1
            return False
        try:
            return ref.tell_now(push)
        except ActorStopped:
            self.skipped += 1
            return False

    def is_online(self, user_id: int) -> bool:
        session = self._sessions.get(user_id)
        return session is not None and bool(session.sockets)

    def session(self, user_id: int) -> UserSession | None:
        return self._sessions.get(user_id)

    def online_users(self) -> int:
        return sum(1 for s in self._sessions.values() if s.sockets)

    def _forget(self, session: UserSession) -> None:
        """Called by an idle SessionActor as it stops: drop its state (nobody is connected)."""
        if not session.sockets:
            self._sessions.pop(session.user_id, None)
            self._refs.pop(session.user_id, None)
