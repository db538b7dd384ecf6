"""A socket's limits, on the connection alone (no server): a client that stops reading is shed at
once when its outbox's byte budget runs out, and leaves its session at that moment."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import trio
import trio.testing

from edges.ws.connection import Connection
from edges.ws.handlers import HANDLERS
from edges.ws.sockets import SocketRegistry
from kernel.config import Settings
from protocol.errors import CloseCode


class SilentPeer:
    """A client that never sends and never reads: every send blocks, as on a full TCP window."""

    peer = "203.0.113.9"

    def __init__(self) -> None:
        self.sent = 0
        self.closed: tuple[int, str] | None = None

    async def receive(self) -> bytes | str | None:
        await trio.sleep_forever()
        return None

    async def send(self, data: bytes) -> None:
        self.sent += 1
        await trio.sleep_forever()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


class Sessions:
    def __init__(self) -> None:
        self.detached: list[tuple[int, Any]] = []

    def detach(self, user_id: int, socket: Any) -> None:
        self.detached.append((user_id, socket))


async def test_a_silent_client_is_shed_when_its_byte_budget_runs_out(autojump_clock: Any) -> None:
    settings = Settings(outbox_capacity=10_000, outbox_max_bytes=64 * 1024)
    sessions = Sessions()
    services = SimpleNamespace(settings=settings, sockets=SocketRegistry(settings), sessions=sessions)
    peer = SilentPeer()
    conn = Connection(peer, services, HANDLERS)  # type: ignore[arg-type]
    conn.user_id = 7
    post = b"x" * 20_000
    async with trio.open_nursery() as nursery:
        nursery.start_soon(conn.serve)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(3):  # 60 kB: within the budget (the first is stuck in the transport)
            conn.send_frame(post)
        assert sessions.detached == []
        shed_at = trio.current_time()
        conn.send_frame(post)  # 80 kB > 64 kB: shed now, not when the client reads again
        assert sessions.detached == [(7, conn)], "left its session at once"
        conn.send_frame(post)  # later pushes are dropped, not queued
    assert trio.current_time() - shed_at <= 1.0, "the socket closed within a second"
    assert peer.closed is not None and peer.closed[0] == CloseCode.SLOW_CONSUMER


class Quiet:
    """A socket as the sweeper sees it."""

    def __init__(
        self,
        opened_at: float = 0.0,
        user_id: int | None = None,
        expires_at: float | None = None,
        peer: str | None = None,
    ) -> None:
        self.peer = peer
        self.last_seen = self.opened_at = opened_at
        self.user_id = user_id
        self.expires_at = expires_at
        self.frames_in = self.frames_out = 0
        self.closed: CloseCode | None = None
        self.frames: list[bytes] = []

    def send_frame(self, frame: bytes) -> None:
        self.frames.append(frame)

    def close(self, code: CloseCode, reason: str) -> None:
        self.closed = code


def test_the_sweep_closes_anonymous_sockets_past_the_deadline_and_expired_tokens() -> None:
    settings = Settings(sign_in_deadline_s=60.0, heartbeat_interval_s=20.0, heartbeat_timeout_s=90.0)
    registry = SocketRegistry(settings)
    lingering, newcomer = Quiet(opened_at=0.0), Quiet(opened_at=50.0)
    expired, valid = Quiet(0.0, user_id=1, expires_at=999.0), Quiet(0.0, user_id=2, expires_at=2000.0)
    for socket in (lingering, newcomer, expired, valid):
        socket.last_seen = 65.0  # all of them answer pings
        registry.add(socket)
    registry.sweep(now=70.0, wall_now=1000.0)
    assert lingering.closed is CloseCode.SIGN_IN_TIMEOUT
    assert newcomer.closed is None
    assert expired.closed is CloseCode.SIGNED_OUT
    assert valid.closed is None


def test_sockets_per_address_are_capped_except_loopback() -> None:
    registry = SocketRegistry(Settings(max_sockets_per_address=2))
    remote = [Quiet(peer="203.0.113.7") for _ in range(3)]
    assert [registry.add(s) for s in remote] == [True, True, False]
    assert registry.add(Quiet(peer="198.51.100.1")), "another address has its own allowance"
    assert all(registry.add(Quiet(peer="127.0.0.1")) for _ in range(5)), "loopback (a proxy) is not capped"
    registry.discard(remote[0])
    assert registry.add(Quiet(peer="203.0.113.7")), "a closed socket frees its place"
