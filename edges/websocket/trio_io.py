"""The websocket over a Trio stream: the thin I/O layer around the sans-IO core.

:func:`read_head` and :func:`handshake` take a fresh connection through the opening handshake;
:class:`TrioWebSocket` is then the message-oriented ``Transport`` that
:class:`edges.ws.connection.Connection` (and the echo server) speak. Reading is one ``receive_some``
per batch of frames, parsed by :class:`~edges.websocket.connection.WebSocketConnection`; what the
protocol makes us answer (pongs, the close echo, a failure's close) is written before the next read.

Writing keeps *encoding* a frame (``WebSocketConnection.send`` → bytes) apart from *sending* bytes
(:meth:`TrioWebSocket.write`), so a caller may encode frames anywhere and hand them to the socket
however it likes — one write for many frames, or straight to the socket without a task switch.
"""

from __future__ import annotations

import os
from collections import deque

import trio

from edges.websocket.connection import Close, Message, State, WebSocketConnection
from edges.websocket.frames import CloseStatus
from edges.websocket.handshake import RequestHead

RECEIVE_BYTES = 64 * 1024
"""Most bytes one read takes from the socket (hypercorn reads as much)."""

CLOSE_TIMEOUT_S = 1.0
"""How long a closing websocket waits for the peer's close frame before dropping the connection."""


async def _receive(stream: trio.abc.Stream) -> bytes:
    """The next bytes from ``stream``; ``b""`` once the peer closed it or it broke."""
    try:
        return bytes(await stream.receive_some(RECEIVE_BYTES))
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return b""


async def read_head(stream: trio.abc.Stream, head: RequestHead) -> bytes:
    """Read until ``head`` is done (a complete request, or bytes that are none) or the peer closed;
    returns every byte read, so the request can be handed as it came to another HTTP server."""
    chunks = []
    while not head.done:
        data = await _receive(stream)
        if not data:
            break
        chunks.append(data)
        head.receive_data(data)
    return b"".join(chunks)


async def handshake(
    stream: trio.abc.Stream, head: RequestHead, *, max_message_bytes: int, peer: str | None = None
) -> TrioWebSocket | None:
    """Answer the complete request ``head`` holds: the websocket, or None once it was refused (or
    the peer left) — the caller then closes ``stream``."""
    answer = head.answer()
    try:
        await stream.send_all(answer.data)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        return None
    if not answer.accepted:
        return None
    return TrioWebSocket(stream, WebSocketConnection(max_message_bytes), peer=peer, early=head.trailing)


class TrioWebSocket:
    """One accepted websocket on a Trio stream (a ``edges.ws.context.Transport``).

    ``send`` and ``close`` never raise for a peer that went away: the connection loop learns that
    from ``receive`` returning None. A write cut short by a cancellation may have left half a frame
    on the wire, so nothing more is written after one (not even a close frame).
    """

    def __init__(
        self, stream: trio.abc.Stream, core: WebSocketConnection, *, peer: str | None, early: bytes = b""
    ) -> None:
        self.peer = peer
        self._stream = stream
        self._core = core
        self._early = early
        self._inbox: deque[bytes | str] = deque()
        self._send_lock = trio.StrictFIFOLock()
        self._gone = False  # the peer closed its side, or the connection broke
        self._broken = False  # writing is over: the peer is unreachable or a write was cut short
        self._pending = b""
        """What :meth:`send_now` could not write at once: the next write sends it first."""
        socket = getattr(stream, "socket", None)
        self._fileno = socket.fileno() if isinstance(stream, trio.SocketStream) and socket is not None else -1
        """The socket, for writes that do not wait (-1: a stream that is not a plain socket)."""

    async def receive(self) -> bytes | str | None:
        """The next message, or None once the websocket is closed (by either side) or broken."""
        inbox = self._inbox
        core = self._core
        while not inbox:
            replies = core.data_to_send()
            if replies:
                await self.write(replies)
            if core.state is not State.OPEN or self._gone:
                return None
            data = self._early or await _receive(self._stream)
            self._early = b""
            if not data:
                self._gone = True
                return None
            for event in core.receive_data(data):
                if type(event) is Message:
                    inbox.append(event.data)
            # Pongs go at once; a close the peer is owed waits until the messages read before it
            # were handed out (and answered): the loop's next turn sends it.
            if inbox and core.state is State.OPEN:
                replies = core.data_to_send()
                if replies:
                    await self.write(replies)
        return inbox.popleft()

    async def send(self, data: bytes | str) -> None:
        """Send one message: binary for ``bytes``, text for ``str``; dropped once closing."""
        if self._core.can_send:
            await self.write(self._core.send(Message(data)))

    async def send_many(self, messages: list[bytes]) -> None:
        """Send several binary messages in one write (one system call for a backlog)."""
        core = self._core
        if core.can_send:
            await self.write(b"".join([core.send(Message(data)) for data in messages]))

    def send_now(self, data: bytes) -> bool:
        """Send one binary message from the calling task, without waiting: written to the socket
        at once if it takes it, the rest kept for :meth:`flush`. False when that cannot be done now
        — a write is under way or pending, the socket is closing, not a plain socket — and the
        caller should queue it for :meth:`send` instead.

        Pushes to thousands of sockets are written from the fan-out's own loop this way: no task
        switch and no lock per recipient when the socket has room, as it nearly always has.
        """
        if self._fileno < 0 or self._pending or self._send_lock.locked() or self._broken:
            return False
        core = self._core
        if not core.can_send:
            return False
        raw = core.send(Message(data))
        try:
            written = os.write(self._fileno, raw)
        except BlockingIOError:
            written = 0
        except OSError:
            self._broken = True  # the peer is gone: the reader learns it and ends the connection
            return True
        self._pending = raw[written:]
        return True

    @property
    def pending(self) -> int:
        """Bytes :meth:`send_now` left for :meth:`flush`."""
        return len(self._pending)

    async def flush(self) -> None:
        """Write what :meth:`send_now` left over (waiting for the socket to take it)."""
        if self._pending:
            await self.write(b"")

    async def close(self, code: int, reason: str) -> None:
        """Send our close frame; :meth:`aclose` then waits for the peer's and drops the connection."""
        if self._core.state is State.OPEN:
            await self.write(self._core.send(Close(code, reason)))

    async def write(self, raw: bytes) -> None:
        """Write encoded frames, whole, in the order the calls came."""
        lock = self._send_lock
        try:
            lock.acquire_nowait()  # the usual case, free: no extra trip through the scheduler
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if self._broken:
                return
            await trio.lowlevel.checkpoint_if_cancelled()  # a pending cancel costs no frame
            if self._pending:  # send_now's rest goes first: frames leave in the order they came
                raw, self._pending = self._pending + raw, b""
            try:
                await self._stream.send_all(raw)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._broken = True
            except BaseException:
                self._broken = True  # cancelled part-way: the wire may hold half a frame
                raise
        finally:
            lock.release()

    async def aclose(self) -> None:
        """End the websocket: 1001 if nobody closed it yet, the peer's close frame awaited (within
        :data:`CLOSE_TIMEOUT_S`), then the stream closed. Runs to the end even when cancelled."""
        core = self._core
        with trio.CancelScope(shield=True):
            with trio.move_on_after(CLOSE_TIMEOUT_S):
                replies = core.data_to_send()
                if replies:
                    await self.write(replies)
                if core.state is State.OPEN and not self._gone:
                    await self.close(int(CloseStatus.GOING_AWAY), "going away")
                while core.state is State.CLOSING and not (self._gone or self._broken):
                    data = await _receive(self._stream)
                    if not data:
                        break
                    core.receive_data(data)
            await self._stream.aclose()
