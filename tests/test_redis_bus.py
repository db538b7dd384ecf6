"""RedisBus against a real Redis server: every process gets every delivery, drops reconnect."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis
import trio
import trio.testing

from kernel.errors import ActorStopped
from stores.bus import Delivery
from stores.redis.bus import RedisBus
from stores.redis.client import RedisClient
from supervisor import Supervisor


class Recorder:
    """A LocalDeliverer that hands each delivery to the test."""

    def __init__(self) -> None:
        self.send, self.receive = trio.open_memory_channel[Delivery](16)

    async def deliver(self, delivery: Delivery) -> int:
        await self.send.send(delivery)
        return len(delivery.targets)


class Flaky(Recorder):
    """A LocalDeliverer whose first delivery fails, as one to a stopped session did."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def deliver(self, delivery: Delivery) -> int:
        if self.failures:
            self.failures -= 1
            raise ActorStopped("/viora/sessions/user:1")
        return await super().deliver(delivery)


def client(url: str, prefix: str) -> RedisClient:
    return RedisClient(url, prefix=prefix, threads=2, timeout_s=5.0)


@pytest.fixture
async def buses(redis_url: str, prefix: str) -> AsyncIterator[list[tuple[RedisBus, Recorder]]]:
    """Two buses as two processes would have them (own clients, one prefix), subscribed."""
    pairs = []
    async with trio.open_nursery() as nursery:
        supervisors = []
        for name in ("a", "b"):
            recorder = Recorder()
            bus = RedisBus(client(redis_url, prefix), recorder)
            supervisor = Supervisor(name, [bus.child_spec()])
            await nursery.start(supervisor.run)
            supervisors.append(supervisor)
            pairs.append((bus, recorder))
        yield pairs
        for supervisor in supervisors:
            await supervisor.shutdown()


async def test_every_process_receives_every_delivery(buses: list[tuple[RedisBus, Recorder]]) -> None:
    (a, a_got), (b, b_got) = buses
    delivery = Delivery("home", "post.created", {"post": {"id": 7, "text": "héllo"}}, ((1, 3), (2, None)))
    with trio.fail_after(5):
        await a.publish(delivery)
        assert await a_got.receive.receive() == delivery
        assert await b_got.receive.receive() == delivery
        # The bus counts a delivery when the deliverer returns, which can be just after the test
        # has received it: let the bus task finish that step.
        await trio.testing.wait_all_tasks_blocked()
    assert (a.published, b.published) == (1, 0)
    assert b.figures() | {"channel": None} == {
        "channel": None,
        "published": 0,
        "received": 1,
        "delivered": 2,
        "errors": 0,
        "subscriptions": 1,
    }


async def test_a_dropped_subscription_is_counted_and_reestablished(
    buses: list[tuple[RedisBus, Recorder]], redis_url: str
) -> None:
    (a, _), (b, b_got) = buses
    with redis.Redis.from_url(redis_url) as admin:
        name = b._client.keys("bus", b._client.node)
        victim = next(c for c in admin.client_list() if c["name"] == name)
        admin.client_kill_filter(_id=victim["id"])
    with trio.fail_after(10):
        await b.wait_subscribed(2)
        await a.publish(Delivery("typing", "typing", {"from": 1}, ((2, None),)))
        assert (await b_got.receive.receive()).type == "typing"
    assert b.errors == 1


async def test_shutdown_ends_the_subscription(redis_url: str, prefix: str) -> None:
    bus = RedisBus(client(redis_url, prefix), Recorder())
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor("alone", [bus.child_spec()])
        await nursery.start(supervisor.run)
        with trio.fail_after(5):
            await supervisor.shutdown()
    with redis.Redis.from_url(redis_url) as admin, trio.fail_after(5):
        # Redis notices the closed socket on its own time: poll the other process (no event to wait on).
        while admin.pubsub_numsub(bus.channel)[0][1] != 0:  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_a_publish_without_redis_is_store_unavailable(prefix: str) -> None:
    from kernel.errors import StoreUnavailable

    bus = RedisBus(RedisClient("redis://127.0.0.1:1/0", prefix=prefix, threads=1, timeout_s=1.0), Recorder())
    with pytest.raises(StoreUnavailable):
        await bus.publish(Delivery("typing", "typing", {}, ((1, None),)))
    assert bus.errors == 1


async def test_a_failed_local_delivery_is_counted_and_the_subscriber_carries_on(
    redis_url: str, prefix: str
) -> None:
    flaky = Flaky()
    bus = RedisBus(client(redis_url, prefix), flaky)
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor("flaky", [bus.child_spec()])
        await nursery.start(supervisor.run)
        with trio.fail_after(5):
            for n in (1, 2):
                await bus.publish(Delivery("typing", "typing", {"n": n}, ((1, None),)))
            assert (await flaky.receive.receive()).body == {"n": 2}
        (node,) = supervisor.inspect()["children"]
        assert (node["restarts"], bus.subscriptions, bus.errors) == (0, 1, 1)
        await supervisor.shutdown()


async def test_a_bus_is_alone_while_no_other_process_is_subscribed(
    buses: list[tuple[RedisBus, Recorder]], redis_url: str, prefix: str
) -> None:
    (a, _), (b, _) = buses
    assert not await a.alone() and not await b.alone(), "each sees the other"
    solo = RedisBus(client(redis_url, f"{prefix}-solo"), Recorder())  # another site, same server
    assert await solo.alone()
    async with trio.open_nursery() as nursery:
        supervisor = Supervisor("solo", [solo.child_spec()])
        await nursery.start(supervisor.run)
        assert await solo.alone(), "its own subscription does not count"
        await supervisor.shutdown()
    unreachable = RedisBus(
        RedisClient("redis://127.0.0.1:1/0", prefix=prefix, threads=1, timeout_s=1.0), Recorder()
    )
    assert not await unreachable.alone(), "cannot tell: not alone"
