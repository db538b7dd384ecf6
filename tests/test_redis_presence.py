"""RedisPresence against a real Redis server: two nodes (processes) share one view of who is online."""

from __future__ import annotations

import time

import pytest
import redis
import trio

from stores.presence import PresenceStatus
from stores.redis.client import RedisClient
from stores.redis.presence import RedisPresence
from supervisor import Supervisor

TTL_S = 15.0


@pytest.fixture
async def nodes(redis_url: str, prefix: str) -> list[RedisPresence]:
    """Two live nodes, as two processes would have them."""
    pair = [
        RedisPresence(RedisClient(redis_url, prefix=prefix, threads=2, timeout_s=5.0), ttl_s=TTL_S)
        for _ in range(2)
    ]
    for node in pair:
        await node.beat()
    return pair


async def test_online_while_any_socket_on_any_node(nodes: list[RedisPresence]) -> None:
    a, b = nodes
    assert await b.status([1, 2]) == {1: PresenceStatus(False, None), 2: PresenceStatus(False, None)}
    await a.went_online(1)
    await a.went_online(1)  # a second socket
    await b.went_online(1)
    assert (await b.status([1]))[1].online
    await a.went_offline(1)
    await a.went_offline(1)
    assert (await a.status([1]))[1] == PresenceStatus(True, None), "still on b"
    before = time.time()
    await b.went_offline(1)
    status = (await a.status([1]))[1]
    assert not status.online and status.last_seen is not None and before <= status.last_seen <= time.time()
    assert await a.status([]) == {}


async def test_a_crashed_nodes_users_go_offline_and_are_pruned(
    nodes: list[RedisPresence], redis_url: str, prefix: str
) -> None:
    a, b = nodes
    await a.went_online(5)
    assert (await b.status([5]))[5].online
    with redis.Redis.from_url(redis_url) as admin:
        # What a crash leaves: a's expiry lapses, as it does when a stops beating. (Set, not
        # waited for: the lapse is Redis's clock against the stored expiry, nothing else.)
        admin.zadd(f"{prefix}:presence:nodes", {a.node: time.time() - TTL_S})
        assert not (await b.status([5]))[5].online
        await b.beat()
        assert b.pruned == 0, "lapsed but not yet dead for good: a may still come back"
        admin.zadd(f"{prefix}:presence:nodes", {a.node: 0})
        await b.beat()
        assert b.pruned == 1
        assert admin.hgetall(f"{prefix}:presence:user:5") == {}
        assert not admin.exists(f"{prefix}:presence:node:{a.node}")


async def test_the_child_keeps_its_node_live_and_leaves_on_shutdown(
    redis_url: str, prefix: str, nodes: list[RedisPresence]
) -> None:
    _, observer = nodes
    node = RedisPresence(RedisClient(redis_url, prefix=prefix, threads=2, timeout_s=5.0), ttl_s=TTL_S)
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor("p", [node.child_spec()])
        await nursery.start(supervisor.run)
        assert node.beats == 1, "live before ready"
        await node.went_online(9)
        assert (await observer.status([9]))[9].online
        await supervisor.shutdown()
    assert not (await observer.status([9]))[9].online, "a node that leaves takes its users with it"
