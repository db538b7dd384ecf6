"""The event bus across server processes: one Redis pub/sub channel.

Every process publishes its deliveries on ``<prefix>:deliveries`` and subscribes to it, so each
delivery reaches every process's :class:`~stores.bus.LocalDeliverer` (its session directory), which
pushes to the targets online there. Pub/sub is fire-and-forget: a delivery published while a
subscriber is reconnecting is lost *live* — durable streams (home, notifications) are repaired from
the store on the client's next ``stream.resume``; ephemeral ones (typing, media progress) are not.

Threads: redis-py's sync client blocks, so publishing runs in worker threads (``RedisClient.run``),
and the subscription reads in one dedicated thread that hands each message to Trio through a
bounded channel (``trio.from_thread.run(send.send, …)``): a process slow to deliver slows its own
reader, and Redis buffers for it (up to its ``client-output-buffer-limit``), instead of our memory.
"""

from __future__ import annotations

import logging
from typing import Any

import msgpack
import redis
import trio
from redis.connection import AbstractConnection

from kernel.errors import DomainError, StoreUnavailable
from stores.bus import Delivery, LocalDeliverer
from stores.redis.client import RedisClient
from supervisor import ChildContext, ChildSpec

log = logging.getLogger("stores.bus")

BUFFER = 256
"""Deliveries read from Redis and not yet delivered here; past it the reader thread waits."""
RECONNECT_INITIAL_S = 0.1
RECONNECT_MAX_S = 5.0


class RedisBus:
    """:class:`stores.bus.EventBus` over Redis; :meth:`child_spec` runs its subscriber."""

    def __init__(self, client: RedisClient, local: LocalDeliverer, *, shutdown_s: float = 5.0) -> None:
        self._client = client
        self._local = local
        self._shutdown_s = shutdown_s
        self.channel = client.keys("deliveries")
        self.published = 0
        self.received = 0
        self.delivered = 0
        """Pushes handed to local sessions (targets online on this process)."""
        self.errors = 0
        """Failed publishes, dropped subscriptions, undecodable messages, failed local deliveries."""
        self.subscriptions = 0
        """Times the subscription was (re)established."""
        self._subscribed = trio.Event()

    async def publish(self, delivery: Delivery) -> None:
        data = delivery.encode()
        try:
            await self._client.run(lambda r: r.publish(self.channel, data))
        except StoreUnavailable:
            self.errors += 1
            raise
        self.published += 1

    async def alone(self) -> bool:
        """Whether no other process is subscribed: each subscribes before it takes requests, and
        one that dies loses its subscription with its connection. Subscriber connections are named
        after their node, which tells ours from theirs; False if Redis cannot be asked or refuses
        to list its clients (an ACL may forbid ``CLIENT LIST``)."""
        ours = self._subscriber_name()
        theirs = self._client.keys("bus", "")
        try:
            clients = await self._client.run(lambda r: r.client_list(_type="pubsub"))
        except StoreUnavailable as exc:
            log.warning("cannot tell whether other processes share %s: %s", self.channel, exc)
            return False
        return not any(c.get("name", "").startswith(theirs) and c.get("name") != ours for c in clients)

    def _subscriber_name(self) -> str:
        return self._client.keys("bus", self._client.node)

    def child_spec(self) -> ChildSpec:
        return ChildSpec("bus", self.run, shutdown_s=self._shutdown_s)

    async def wait_subscribed(self, count: int = 1) -> None:
        """Until the subscription has been established ``count`` times (1: the first one)."""
        while self.subscriptions < count:
            await self._subscribed.wait()

    def figures(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "published": self.published,
            "received": self.received,
            "delivered": self.delivered,
            "errors": self.errors,
            "subscriptions": self.subscriptions,
        }

    async def run(self, ctx: ChildContext) -> None:
        """The subscriber: ready once subscribed (so nothing published after start-up is missed)."""
        ctx.expose(self.figures)
        send, receive = trio.open_memory_channel[bytes](BUFFER)
        async with trio.open_nursery() as nursery, send, receive:
            nursery.start_soon(self._subscribe_forever, send)
            with trio.fail_after(self._client.timeout_s):  # a start that cannot subscribe fails
                await self.wait_subscribed(self.subscriptions + 1)
            ctx.started()
            await ctx.run_until_stopped(lambda: self._deliver_all(receive))
            nursery.cancel_scope.cancel()

    async def _deliver_all(self, receive: trio.MemoryReceiveChannel[bytes]) -> None:
        async for data in receive:
            self.received += 1
            try:
                delivery = Delivery.decode(data)
            except (ValueError, TypeError, msgpack.UnpackException) as exc:
                self.errors += 1
                log.warning("undecodable delivery on %s dropped: %r", self.channel, exc)
                continue
            try:
                self.delivered += await self._local.deliver(delivery)
            except DomainError as exc:  # one delivery's failure must not end the subscription
                self.errors += 1
                log.warning("delivery of %s on %s failed here: %s", delivery.type, self.channel, exc)

    async def _subscribe_forever(self, send: trio.MemorySendChannel[bytes]) -> None:
        """Subscribe, and after a drop subscribe again with exponential backoff (reset by success)."""
        delay = RECONNECT_INITIAL_S
        while True:
            before = self.subscriptions
            try:
                await self._subscribe_once(send)  # returns only by raising
            except (redis.RedisError, OSError) as exc:
                self.errors += 1
                if self.subscriptions > before:
                    delay = RECONNECT_INITIAL_S
                log.warning("%s: subscription lost (%s); again in %.1fs", self.channel, exc, delay)
            await trio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _subscribe_once(self, send: trio.MemorySendChannel[bytes]) -> None:
        connection = self._client.subscriber_connection(self._subscriber_name())
        try:
            # One thread for the subscription's lifetime, outside the default thread limiter.
            # Cancelling abandons the thread; closing its connection below ends it.
            await trio.to_thread.run_sync(
                self._read_blocking,
                connection,
                send,
                abandon_on_cancel=True,
                limiter=trio.CapacityLimiter(1),
            )
        finally:
            connection.disconnect()

    def _read_blocking(self, connection: AbstractConnection, send: trio.MemorySendChannel[bytes]) -> None:
        """In the reader thread: subscribe, then forward each message to Trio until the connection
        fails (or is closed by the Trio side)."""
        connection.connect()
        connection.send_command("SUBSCRIBE", self.channel)
        while True:
            kind, _channel, payload = connection.read_response()
            if kind == b"message":
                trio.from_thread.run(send.send, payload)
            elif kind == b"subscribe":
                trio.from_thread.run_sync(self._on_subscribed)

    def _on_subscribed(self) -> None:
        self.subscriptions += 1
        self._subscribed.set()
        self._subscribed = trio.Event()
