"""One client socket: the thin I/O layer around the sans-IO ``protocol`` package.

A connection runs two tasks: a *reader* that decodes, validates and dispatches one request at a
time (so a client's own requests are answered in order, and a client that floods us is slowed by
its own socket), and a *writer* that drains a bounded outbox, all that is queued in one write.
Replies and pushes share that outbox, so they reach the client in the order they were produced;
when nothing is queued (the client keeps up), a frame is written straight from the task that has
it — a fan-out's loop — without waiting and without a task switch, and only what the socket does
not take waits for the writer. A client that stops reading and lets its
outbox fill is disconnected (``SLOW_CONSUMER``) instead of growing our memory: it can resume later.

The table of handlers is given to the connection (it does not import them), and failures come
back as :mod:`kernel.errors`, answered through the edge's one table (:mod:`edges.ws.errors`).
Liveness is checked by :class:`~edges.ws.sockets.SocketRegistry`'s single sweeper task rather
than a timer per socket.
"""

from __future__ import annotations

import itertools
import logging

import trio

from edges.ws.context import Handlers, Services, Transport
from edges.ws.errors import protocol_error
from kernel.errors import DomainError, LimitReached
from protocol.codec import Request, decode_request, encode_reply, error_from
from protocol.errors import CloseCode, CloseConnection, ErrorCode, ProtocolError
from protocol.guard import InboundGuard
from protocol.messages import client_message, validate_body
from services.accounts import SignedIn

log = logging.getLogger("viora.connection")

FLUSH_S = 2.0
"""How long a closing socket may take to send the frames already queued for it."""

WRITE_BATCH = 64
"""Frames the writer takes from the outbox for one write at most."""


class Connection:
    _ids = itertools.count(1)

    def __init__(self, transport: Transport, services: Services, handlers: Handlers) -> None:
        self.id = next(self._ids)
        self.transport = transport
        self.peer = transport.peer
        self.services = services
        self._handlers = handlers
        settings = services.settings
        self.guard = InboundGuard(
            settings.rate_per_s, settings.rate_burst, settings.malformed_limit, settings.malformed_window_s
        )
        self.user_id: int | None = None
        self.username: str | None = None
        self.token_hash: bytes | None = None
        self.cursors: dict[str, int] = {}
        self.last_seen = self.opened_at = trio.current_time()
        self.expires_at: float | None = None
        self.frames_in = 0
        self.frames_out = 0
        self._outbox_send, self._outbox_receive = trio.open_memory_channel[bytes | int](settings.outbox_capacity)
        self._outbox_bytes = 0
        """Bytes queued and not yet handed to the transport: the budget that bounds a socket's memory."""
        self._outbox_max_bytes = settings.outbox_max_bytes
        self._outbox_total_max_bytes = settings.outbox_total_max_bytes
        self._shed = False
        self._scope = trio.CancelScope()
        self._reading = trio.CancelScope()
        self._close: tuple[CloseCode, str] | None = None
        self._peer_gone = False

    # ----------------------------------------------------------------- used by others

    def send_frame(self, frame: bytes) -> None:
        """Send (or queue) a frame without waiting; a client too far behind is shed at once.

        Too far behind is more frames than the outbox holds, or more bytes than its budget: a few
        large posts weigh as much as thousands of small ones. The process's sockets also share
        one budget (``outbox_total_max_bytes``): once it is spent, a socket that still has frames
        waiting is shed when the next one comes for it, so a thousand silent followers cannot
        each hold their own budget's worth (RSS stays bounded whatever their number). A shed
        socket leaves its session right away, so no more pushes pile up for it while it stays
        silent; its client resumes the streams later and misses nothing.
        """
        if self._shed or self._write_now(frame):
            return
        size = len(frame)
        sockets = self.services.sockets
        if self._outbox_bytes + size > self._outbox_max_bytes or (
            self._outbox_bytes and sockets.queued_bytes + size > self._outbox_total_max_bytes
        ):
            self._shed_slow_consumer()
            return
        try:
            self._outbox_send.send_nowait(frame)
        except trio.WouldBlock:
            self._shed_slow_consumer()
            return
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            return  # already closing
        self._queued(size)

    def _write_now(self, frame: bytes) -> bool:
        """Write ``frame`` from the calling task when nothing is queued ahead of it (the writer
        is idle): a push costs no task switch when the client keeps up. Whatever the socket did
        not take stays with the transport, counted in the budget, and the writer is woken to
        finish it (an ``int`` in the outbox: that many pending bytes)."""
        if self._outbox_bytes or not self.transport.send_now(frame):
            return False
        self.frames_out += 1
        left = self.transport.pending
        if left:
            try:
                self._outbox_send.send_nowait(left)
            except (trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError):
                return True  # closing: the rest is not wanted any more
            self._queued(left)
        return True

    @property
    def outbox_bytes(self) -> int:
        return self._outbox_bytes

    def _queued(self, size: int) -> None:
        self._outbox_bytes += size
        self.services.sockets.queued_bytes += size

    def _shed_slow_consumer(self) -> None:
        self._shed = True
        self.services.sockets.shed_slow += 1
        if self.user_id is not None:
            self.services.sessions.detach(self.user_id, self)
        self.close(CloseCode.SLOW_CONSUMER, "outbox full: read faster, then resume", flush=False)

    def close(self, code: CloseCode, reason: str, *, flush: bool = True) -> None:
        """Close with ``code``; safe from any task, any number of times.

        With ``flush`` the frames already queued (say, the push explaining why) are sent first,
        within ``FLUSH_S``; without it (a client that stopped reading) the socket closes at once.
        """
        if self._close is None:
            self._close = (code, reason)
        self._reading.cancel()
        if not flush:
            self._scope.cancel()

    def admit(self, user_id: int) -> None:
        """Refuse (``limit_reached``) when the account has as many sockets here as it may: checked
        before a token is issued too, so a refused sign-in leaves no token behind."""
        session = self.services.sessions.session(user_id)
        limit = self.services.settings.max_sockets_per_user
        if session is not None and len(session.sockets) >= limit:
            raise LimitReached(f"this account has {limit} sockets open here already; close one first")

    async def sign_in(self, signed: SignedIn) -> None:
        self.admit(signed.user.id)
        self.user_id = signed.user.id
        self.username = signed.user.username
        self.token_hash = signed.token_hash
        self.expires_at = signed.expires_at
        await self.services.sessions.attach(signed.user.id, signed.user.username, self)

    async def sign_out(self) -> None:
        if self.user_id is not None:
            self.services.sessions.detach(self.user_id, self)
        self.user_id = self.username = self.token_hash = self.expires_at = None
        self.cursors.clear()

    # ----------------------------------------------------------------- the socket's life

    async def serve(self) -> None:
        """Run until the peer goes away or someone closes us; always detaches and closes cleanly."""
        if not self.services.sockets.add(self):
            with trio.move_on_after(1.0):
                await self.transport.close(int(CloseCode.TRY_AGAIN_LATER), "too many sockets from your address")
            return
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._write_loop)
                    with self._reading:
                        await self._read_loop()
                    self._outbox_send.close()  # the writer sends what is queued, then ends
                    if self._peer_gone:
                        nursery.cancel_scope.cancel()
                    else:
                        nursery.cancel_scope.deadline = trio.current_time() + FLUSH_S
        finally:
            self.services.sockets.discard(self)
            if self.user_id is not None:
                self.services.sessions.detach(self.user_id, self)
            if not self._peer_gone:
                code, reason = self._close or (CloseCode.NORMAL, "bye")
                with trio.move_on_after(1.0) as cleanup:
                    cleanup.shield = True
                    await self.transport.close(int(code), reason)

    async def _read_loop(self) -> None:
        while True:
            data = await self.transport.receive()
            if data is None:
                self._peer_gone = True
                return
            self.frames_in += 1
            self.last_seen = trio.current_time()
            try:
                reply = await self._process(data)
            except CloseConnection as close:
                self.close(close.code, close.reason)
                return
            if reply is not None and not self._write_now(reply):
                await self._outbox_send.send(reply)  # a client's own replies wait: backpressure
                self._queued(len(reply))

    async def _process(self, data: bytes | str) -> bytes | None:
        now = trio.current_time()
        try:
            try:
                request = decode_request(data, max_bytes=self.services.settings.max_frame_bytes)
            except ProtocolError:
                self.guard.record_malformed(now)  # may raise CloseConnection
                raise
            self.guard.admit(now, request.id)
            return await self._dispatch(request)
        except ProtocolError as error:
            return error_from(error)

    async def _dispatch(self, request: Request) -> bytes | None:
        spec = client_message(request.type, request.id)
        body = validate_body(spec, request)
        if spec.auth and self.user_id is None:
            raise ProtocolError(ErrorCode.UNAUTHENTICATED, "sign in first", ref=request.id)
        try:
            result = await self._handlers[request.type](self, request.type, body)
        except ProtocolError as error:
            error.ref = request.id
            raise
        except DomainError as error:
            raise protocol_error(error, request.id) from None
        except Exception:
            log.exception("request %s (%s) failed", request.id, request.type)
            raise ProtocolError(ErrorCode.INTERNAL, "internal error", ref=request.id) from None
        if not spec.replies:
            return None
        return encode_reply(request.id, request.type, result or {})

    async def _write_loop(self) -> None:
        """Drain the outbox: everything queued by the time the writer runs goes in one write."""
        receive = self._outbox_receive
        sockets = self.services.sockets
        async with receive:
            async for first in receive:
                batch = [first]
                while len(batch) < WRITE_BATCH:
                    try:
                        batch.append(receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                frames = [item for item in batch if isinstance(item, bytes)]
                if frames:
                    await self.transport.send_many(frames)  # the transport's pending bytes first
                else:
                    await self.transport.flush()
                size = sum(len(item) if isinstance(item, bytes) else item for item in batch)
                self._outbox_bytes -= size
                sockets.queued_bytes -= size
                self.frames_out += len(frames)
