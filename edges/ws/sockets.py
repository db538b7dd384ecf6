"""Every open socket of this process, and the one task that keeps them honest (heartbeats)."""

from __future__ import annotations

from typing import Protocol

import trio

from kernel.config import Settings
from protocol.codec import encode_ping
from protocol.errors import CloseCode
from supervisor import ChildContext


class LiveSocket(Protocol):
    """What the registry needs of a socket (``edges.ws.connection.Connection`` is one)."""

    last_seen: float
    frames_in: int
    frames_out: int

    def send_frame(self, frame: bytes) -> None: ...

    def close(self, code: CloseCode, reason: str) -> None: ...


class SocketRegistry:
    """Every open socket, and the one task that keeps them honest (heartbeats, dead peers).

    A sweep every ``heartbeat_interval_s`` sends ``ping`` to sockets silent for a full interval
    and closes those silent for ``heartbeat_timeout_s`` — one task for all sockets, not one each.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sockets: set[LiveSocket] = set()
        self.closed_dead = 0
        self._closed_frames_in = 0
        self._closed_frames_out = 0

    def add(self, conn: LiveSocket) -> None:
        self._sockets.add(conn)

    def discard(self, conn: LiveSocket) -> None:
        if conn in self._sockets:
            self._sockets.remove(conn)
            self._closed_frames_in += conn.frames_in
            self._closed_frames_out += conn.frames_out

    def frame_totals(self) -> tuple[int, int]:
        """Frames received and sent by every socket since start, closed ones included.

        Closed sockets are folded in as they go and open ones summed when asked, so counting costs
        the per-frame path nothing beyond the connection's own counters (read at scrape time).
        """
        frames_in = self._closed_frames_in + sum(c.frames_in for c in self._sockets)
        frames_out = self._closed_frames_out + sum(c.frames_out for c in self._sockets)
        return frames_in, frames_out

    def __len__(self) -> int:
        return len(self._sockets)

    def close_all(self, code: CloseCode, reason: str) -> None:
        for conn in list(self._sockets):
            conn.close(code, reason)

    def sweep(self, now: float) -> None:
        ping = encode_ping()
        for conn in list(self._sockets):
            silent = now - conn.last_seen
            if silent >= self._settings.heartbeat_timeout_s:
                self.closed_dead += 1
                conn.close(CloseCode.HEARTBEAT_TIMEOUT, "no frames from the client in time")
            elif silent >= self._settings.heartbeat_interval_s:
                conn.send_frame(ping)

    async def run_sweeper(self, ctx: ChildContext) -> None:
        """Supervised child body: sweep every half interval until asked to stop."""
        ctx.expose(lambda: {"sockets": len(self._sockets), "closed_dead": self.closed_dead})
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        while True:
            await trio.sleep(self._settings.heartbeat_interval_s / 2)
            self.sweep(trio.current_time())
