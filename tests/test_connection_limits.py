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

    async def send_many(self, messages: list[bytes]) -> None:
        await self.send(messages[0])

    def send_now(self, data: bytes) -> bool:
        return False  # its socket has no room: every frame waits in the outbox

    pending = 0

    async def flush(self) -> None:
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


async def test_silent_clients_share_one_process_budget_and_the_ones_behind_are_shed(autojump_clock: Any) -> None:
    """Each socket alone is within its own budget, but together they are not: the one whose frames
    are waiting is shed as its next frame comes; one with nothing waiting still gets its frame."""
    settings = Settings(outbox_capacity=10_000, outbox_max_bytes=64 * 1024, outbox_total_max_bytes=100 * 1024)
    sessions = Sessions()
    registry = SocketRegistry(settings)
    services = SimpleNamespace(settings=settings, sockets=registry, sessions=sessions)
    first, second, fresh = (Connection(SilentPeer(), services, HANDLERS) for _ in range(3))  # type: ignore[arg-type]
    for user_id, conn in enumerate((first, second, fresh), start=1):
        conn.user_id = user_id
    post = b"x" * 20_000
    async with trio.open_nursery() as nursery:
        for conn in (first, second, fresh):
            nursery.start_soon(conn.serve)
        await trio.testing.wait_all_tasks_blocked()
        for _ in range(3):
            first.send_frame(post)
        for _ in range(2):
            second.send_frame(post)
        assert registry.queued_bytes == 100_000 and sessions.detached == []
        fresh.send_frame(post)  # over the shared budget, but nothing of its own is waiting
        assert sessions.detached == []
        second.send_frame(post)
        assert sessions.detached == [(2, second)], "the one behind is shed at once"
        first.send_frame(post)
        assert sessions.detached == [(2, second), (1, first)]
        await trio.testing.wait_all_tasks_blocked()
        assert registry.queued_bytes == 20_000, "the shed sockets' queued bytes left the budget"
        assert registry.shed_slow == 2
        nursery.cancel_scope.cancel()


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
        self.frames_in = self.frames_out = self.outbox_bytes = 0
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
