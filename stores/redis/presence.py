"""Presence across server processes, in Redis.

Keys (under the site's prefix)::

    presence:user:<user_id>    hash   node id -> sockets of that user open on that node
    presence:node:<node id>    set    users with a socket open on that node (to clean up after it)
    presence:nodes             zset   node id -> when its liveness lapses (Redis server time)
    presence:last-seen         hash   user id -> unix time their last socket on some node closed

Each process is a *node* (``RedisClient.node``). A user is online while some **live** node counts a
socket of theirs. A node stays live by moving its expiry forward every third of ``ttl_s`` (the
``presence-node`` child): a process that crashes — and so never reports its users' sockets closing —
stops doing so, and after ``ttl_s`` its users read as offline. Expiries are compared with Redis's
own clock (``TIME``), so the processes' clocks need not agree. Long-dead nodes are pruned (their
counts deleted) by whichever node beats next.

Last-seen is written when a user's last socket *on one node* closes; while they are still online
elsewhere it is not shown, and the node that closes their last socket overwrites it. A crashed
node's users keep the last-seen they had before.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
import trio

from kernel.errors import StoreUnavailable
from stores.presence import PresenceStatus
from stores.redis.client import RedisClient
from supervisor import ChildContext, ChildSpec

log = logging.getLogger("viora.presence")

PRUNE_AFTER_TTLS = 4
"""A node whose liveness lapsed this many TTLs ago is dead for good: its counts are deleted.
(Before that it only reads as offline: a node that stalled and beats again keeps its users.)"""

# Atomic, so two sockets of one user closing on one node at once cannot both miss the zero.
WENT_OFFLINE = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[2])
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
end
return n
"""


class RedisPresence:
    """:class:`stores.presence.PresenceStore` shared by every process; :meth:`child_spec` keeps
    this node alive."""

    def __init__(self, client: RedisClient, *, ttl_s: float) -> None:
        self._client = client
        self._keys = client.keys
        self._ttl_s = ttl_s
        self.node = client.node
        self._nodes = self._keys("presence", "nodes")
        self._last_seen = self._keys("presence", "last-seen")
        self._went_offline = client.sync.register_script(WENT_OFFLINE)
        self.beats = 0
        self.pruned = 0
        self.errors = 0

    def _user(self, user_id: int | bytes | str) -> str:
        return self._keys("presence", "user", int(user_id))

    def _node_users(self, node: str) -> str:
        return self._keys("presence", "node", node)

    # ----------------------------------------------------------------- PresenceStore

    async def went_online(self, user_id: int) -> None:
        def command(r: redis.Redis) -> None:
            with r.pipeline(transaction=True) as pipe:
                pipe.hincrby(self._user(user_id), self.node, 1)
                pipe.sadd(self._node_users(self.node), user_id)
                pipe.execute()

        await self._client.run(command)

    async def went_offline(self, user_id: int) -> None:
        keys = [self._user(user_id), self._node_users(self.node), self._last_seen]
        args: list[str | int | float] = [self.node, user_id, time.time()]
        await self._client.run(lambda r: self._went_offline(keys=keys, args=args, client=r))

    async def status(self, user_ids: list[int]) -> dict[int, PresenceStatus]:
        """Everyone's status in one round trip (a pipeline), judged against Redis's clock."""
        if not user_ids:
            return {}

        def command(r: redis.Redis) -> list[Any]:
            with r.pipeline(transaction=False) as pipe:
                pipe.time()
                pipe.zrangebyscore(self._nodes, "-inf", "+inf", withscores=True)
                pipe.hmget(self._last_seen, user_ids)
                for user_id in user_ids:
                    pipe.hgetall(self._user(user_id))
                return pipe.execute()

        (seconds, micros), nodes, last_seen, *per_node = await self._client.run(command)
        now = seconds + micros / 1e6
        alive = {node for node, lapses_at in nodes if lapses_at > now}
        statuses = {}
        for user_id, seen, counts in zip(user_ids, last_seen, per_node, strict=True):
            online = any(int(n) > 0 for node, n in counts.items() if node in alive)
            statuses[user_id] = PresenceStatus(online, None if online or seen is None else float(seen))
        return statuses

    # ----------------------------------------------------------------- liveness

    def child_spec(self) -> ChildSpec:
        return ChildSpec("presence-node", self.run)

    def figures(self) -> dict[str, Any]:
        return {"node": self.node, "beats": self.beats, "pruned_nodes": self.pruned, "errors": self.errors}

    async def run(self, ctx: ChildContext) -> None:
        """Beat before reporting ready (so this node is live before its first user), then every
        third of the TTL; on shutdown, leave: this node's users go offline at once."""
        ctx.expose(self.figures)
        await self.beat()
        ctx.started()
        await ctx.run_until_stopped(self._beat_forever)
        if ctx.final_stop:
            try:
                await self._client.run(lambda r: self._forget(r, self.node))
            except StoreUnavailable as exc:
                log.warning("presence: could not leave (%s); this node lapses in %.0fs", exc, self._ttl_s)

    async def beat(self) -> None:
        """Move this node's expiry forward and prune nodes long dead."""
        self.pruned += await self._client.run(self._beat_blocking)
        self.beats += 1

    async def _beat_forever(self) -> None:
        while True:
            await trio.sleep(self._ttl_s / 3)
            try:
                await self.beat()
            except StoreUnavailable as exc:
                self.errors += 1
                log.warning("presence: heartbeat failed (%s)", exc)

    def _beat_blocking(self, r: redis.Redis) -> int:
        seconds, micros = r.time()
        now = seconds + micros / 1e6
        r.zadd(self._nodes, {self.node: now + self._ttl_s})
        dead = r.zrangebyscore(self._nodes, "-inf", now - PRUNE_AFTER_TTLS * self._ttl_s)
        for node in dead:
            self._forget(r, node.decode() if isinstance(node, bytes) else str(node))
        return len(dead)

    def _forget(self, r: redis.Redis, node: str) -> None:
        """Delete a node's counts and the node itself (idempotent: several nodes may prune one)."""
        users = r.smembers(self._node_users(node))
        with r.pipeline(transaction=True) as pipe:
            for user_id in users:
                pipe.hdel(self._user(user_id), node)
            pipe.delete(self._node_users(node))
            pipe.zrem(self._nodes, node)
            pipe.execute()
