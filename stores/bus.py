"""Live delivery across server processes: the event bus.

Anything that must reach users' open sockets — a fanned-out post, a notification, a direct message —
is *published* as a :class:`Delivery`. Every server process receives every delivery and hands it to
its own :class:`~actors.session.directory.SessionDirectory`, which pushes to the users that are
online *on that process*. One process runs with :class:`InProcessBus`; several share a Redis
channel (``stores.redis.bus.RedisBus``) — the same publishers, the same directory.

A delivery lists its targets with their sequence numbers, so a fan-out to 2,000 followers is one
message on the bus, not 2,000.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack


@dataclass(frozen=True, slots=True)
class Delivery:
    stream: str
    type: str
    body: dict[str, Any]
    targets: tuple[tuple[int, int | None], ...]
    """``(user_id, seq)`` pairs; ``seq`` is None on ephemeral streams (typing, presence, media)."""

    def encode(self) -> bytes:
        return msgpack.packb([self.stream, self.type, self.body, self.targets], use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> Delivery:
        stream, type_, body, targets = msgpack.unpackb(data, raw=False)
        return cls(stream, type_, body, tuple((uid, seq) for uid, seq in targets))


class LocalDeliverer(Protocol):
    async def deliver(self, delivery: Delivery) -> int:
        """Push to the targets online on this process; return how many were."""
        ...


class EventBus(Protocol):
    async def publish(self, delivery: Delivery) -> None: ...


class InProcessBus:
    """The single-process bus: publishing is delivering."""

    def __init__(self, local: LocalDeliverer) -> None:
        self._local = local
        self.published = 0

    async def publish(self, delivery: Delivery) -> None:
        self.published += 1
        await self._local.deliver(delivery)


def user_pusher(bus: EventBus) -> Callable[[int, str, str, dict[str, Any]], Awaitable[bool]]:
    """A ``push(user_id, stream, type, body)`` for one-user ephemeral events (media progress…),
    delivered through the bus so the user's sockets may be on any process."""

    async def push(user_id: int, stream: str, type_: str, body: dict[str, Any]) -> bool:
        await bus.publish(Delivery(stream, type_, body, ((user_id, None),)))
        return True

    return push
