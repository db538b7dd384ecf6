"""redis-py's sync client, driven from Trio.

redis-py's asyncio API needs an asyncio loop, and Viora runs on Trio; its sync client is mature and
thread-safe (a pool hands each command its own connection). So every command runs in a worker
thread through :func:`trio.to_thread.run_sync`, bounded by a :class:`trio.CapacityLimiter` the size
of the pool — the same pattern as the PostgreSQL store. A subscription, which blocks its connection
for good, gets a connection of its own (:meth:`RedisClient.subscriber_connection`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import redis
import trio
from redis.connection import AbstractConnection

from kernel.config import Settings
from kernel.errors import StoreUnavailable

T = TypeVar("T")


class Keyspace:
    """Names of keys and channels under one prefix, so several sites (or test runs) share a server."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __call__(self, *parts: object) -> str:
        return ":".join((self.prefix, *(str(part) for part in parts)))


class RedisClient:
    def __init__(
        self, url: str, *, prefix: str, threads: int, timeout_s: float, node: str | None = None
    ) -> None:
        self.url = url
        self.node = node or f"{os.getpid()}-{secrets.token_hex(4)}"
        """This process among those sharing the server (presence counts, connection names)."""
        self.keys = Keyspace(prefix)
        self.timeout_s = timeout_s
        self._limiter = trio.CapacityLimiter(threads)
        self.sync = redis.Redis.from_url(
            url,
            max_connections=threads,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            socket_keepalive=True,
        )

    async def run(self, command: Callable[[redis.Redis], T]) -> T:
        """``command(client)`` in a worker thread; Redis failures become :class:`StoreUnavailable`.

        Not cancellable once started (the socket timeout bounds it): an abandoned command would
        leave its pooled connection mid-reply.
        """
        try:
            return await trio.to_thread.run_sync(command, self.sync, limiter=self._limiter)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    def subscriber_connection(self, name: str) -> AbstractConnection:
        """A fresh, unconnected connection outside the pool, with no read timeout and no retries,
        named (``CLIENT LIST``) so operators can tell it apart.

        A subscriber blocks reading until a message comes, so it must not share the pool; and it
        must not reconnect behind our back (redis-py's ``PubSub`` does, even after ``close()`` from
        another thread): the bus reconnects itself, counting each drop.
        """
        pool = redis.ConnectionPool.from_url(
            self.url,
            socket_timeout=None,
            socket_connect_timeout=self.timeout_s,
            socket_keepalive=True,
            protocol=2,
            client_name=name,
        )
        connection = pool.make_connection()
        assert isinstance(connection, AbstractConnection)
        return connection

    def close(self) -> None:
        self.sync.close()


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[RedisClient | None]:
    """The Redis client for ``settings.redis_url`` (checked with a PING, so a wrong URL fails at
    start-up, not at the first post); ``None`` when it is unset and the process stands alone."""
    if settings.redis_url is None:
        yield None
        return
    client = RedisClient(
        settings.redis_url,
        prefix=settings.redis_prefix,
        threads=settings.redis_threads,
        timeout_s=settings.redis_timeout_s,
    )
    try:
        await client.run(lambda r: r.ping())
        yield client
    finally:
        client.close()
