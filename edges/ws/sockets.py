"""Every open socket of this process, and the one task that keeps them honest (heartbeats)."""

from __future__ import annotations

import ipaddress
import time
from typing import Protocol

import trio

from kernel.config import Settings
from protocol.codec import encode_ping
from protocol.errors import CloseCode
from supervisor import ChildContext


class LiveSocket(Protocol):
    """What the registry needs of a socket (``edges.ws.connection.Connection`` is one)."""

    peer: str | None
    last_seen: float
    opened_at: float
    user_id: int | None
    expires_at: float | None
    """When the socket's token stops working (Unix time); None while it is not signed in."""
    frames_in: int
    frames_out: int
    @property
    def outbox_bytes(self) -> int:
        """Bytes queued towards the socket and not yet written."""
        ...

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
        self._per_peer: dict[str, int] = {}
        self.refused_per_address = 0
        self.queued_bytes = 0
        """Bytes queued towards every socket of the process: the outbox budget they share
        (``Connection.send_frame`` keeps it; a socket's unsent bytes leave it when it is discarded)."""
        self.shed_slow = 0
        self.closed_dead = 0
        self.closed_anonymous = 0
        self.closed_expired = 0
        self._closed_frames_in = 0
        self._closed_frames_out = 0

    def add(self, conn: LiveSocket) -> bool:
        """Register ``conn``; False (and not registered) when its address has too many sockets.

        Loopback and unknown addresses are not capped: behind a reverse proxy every client comes
        from the proxy's address, and forwarded headers are not trusted here — cap per client at
        the proxy (README, Several processes).
        """
        peer = conn.peer
        if peer is not None and not _is_loopback(peer):
            if self._per_peer.get(peer, 0) >= self._settings.max_sockets_per_address:
                self.refused_per_address += 1
                return False
            self._per_peer[peer] = self._per_peer.get(peer, 0) + 1
        self._sockets.add(conn)
        return True

    def discard(self, conn: LiveSocket) -> None:
        if conn in self._sockets:
            self._sockets.remove(conn)
            self._closed_frames_in += conn.frames_in
            self._closed_frames_out += conn.frames_out
            self.queued_bytes -= conn.outbox_bytes
            peer = conn.peer
            if peer is not None and peer in self._per_peer:
                left = self._per_peer[peer] - 1
                if left:
                    self._per_peer[peer] = left
                else:
                    del self._per_peer[peer]

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

    def sweep(self, now: float, wall_now: float) -> None:
        """Close what must not stay open — silent peers, sockets that never signed in, sockets
        whose token expired while they were open — and ping the quiet ones.

        ``now`` is Trio's clock (liveness), ``wall_now`` Unix time (token expiry is stored so).
        """
        ping = encode_ping()
        for conn in list(self._sockets):
            silent = now - conn.last_seen
            if silent >= self._settings.heartbeat_timeout_s:
                self.closed_dead += 1
                conn.close(CloseCode.HEARTBEAT_TIMEOUT, "no frames from the client in time")
            elif conn.user_id is None and now - conn.opened_at >= self._settings.sign_in_deadline_s:
                self.closed_anonymous += 1
                conn.close(CloseCode.SIGN_IN_TIMEOUT, "sign in sooner after connecting")
            elif conn.expires_at is not None and conn.expires_at <= wall_now:
                self.closed_expired += 1
                conn.close(CloseCode.SIGNED_OUT, "the session token expired; sign in again")
            elif silent >= self._settings.heartbeat_interval_s:
                conn.send_frame(ping)

    async def run_sweeper(self, ctx: ChildContext) -> None:
        """Supervised child body: sweep every half interval until asked to stop."""
        ctx.expose(
            lambda: {
                "sockets": len(self._sockets),
                "closed_dead": self.closed_dead,
                "closed_anonymous": self.closed_anonymous,
                "closed_expired": self.closed_expired,
                "refused_per_address": self.refused_per_address,
                "shed_slow": self.shed_slow,
                "queued_bytes": self.queued_bytes,
            }
        )
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        while True:
            await trio.sleep(self._settings.heartbeat_interval_s / 2)
            self.sweep(trio.current_time(), time.time())


def throttled_address(peer: str | None) -> str | None:
    """The address sign-in failures are counted against, or None where it cannot tell clients
    apart (loopback, a reverse proxy's; unknown): the same rule as the per-address socket cap."""
    return None if peer is None or _is_loopback(peer) else peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
