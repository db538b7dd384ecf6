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

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgpack

from kernel.errors import DomainError

log = logging.getLogger("stores.bus")


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

    async def alone(self) -> bool:
        """Whether no other live server process shares this bus (False when that cannot be told)."""
        ...


class InProcessBus:
    """The single-process bus: publishing is delivering."""

    def __init__(self, local: LocalDeliverer) -> None:
        self._local = local
        self.published = 0

    async def publish(self, delivery: Delivery) -> None:
        self.published += 1
        await self._local.deliver(delivery)

    async def alone(self) -> bool:
        return True  # processes that share a site share a Redis bus


async def publish_live(bus: EventBus, delivery: Delivery) -> bool:
    """Publish ``delivery``; False (and a log line) where live delivery failed, never an error.

    Live delivery is best effort on top of what is stored: durable streams are repaired by the
    next push or a resume, ephemeral events are simply missed. So a publisher must not fail, crash
    or (a FeedActor) write a post everywhere again because the bus or some session is down.
    """
    try:
        await bus.publish(delivery)
    except DomainError as exc:
        log.warning("live delivery of %s on %r failed: %s", delivery.type, delivery.stream, exc)
        return False
    return True


def user_pusher(bus: EventBus) -> Callable[[int, str, str, dict[str, Any]], Awaitable[bool]]:
    """A ``push(user_id, stream, type, body)`` for one-user ephemeral events (media progress…),
    delivered through the bus so the user's sockets may be on any process."""

    async def push(user_id: int, stream: str, type_: str, body: dict[str, Any]) -> bool:
        return await publish_live(bus, Delivery(stream, type_, body, ((user_id, None),)))

    return push


SIGN_OUT = "session.signed_out"
"""A control delivery: close the target's sockets signed in with ``token_hash`` (all of them when
it is None), on every process — a sign-out or revocation must not stop at this process's sockets."""


def sign_out_delivery(user_id: int, token_hash: bytes | None, reason: str) -> Delivery:
    return Delivery("session", SIGN_OUT, {"token_hash": token_hash, "reason": reason}, ((user_id, None),))
