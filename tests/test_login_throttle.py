"""The sign-in failure throttle: its two stores (memory, real Redis) hold the same rules, and
``Accounts`` counts per account and per address — across processes when they share Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio

from kernel.config import Settings
from kernel.errors import AuthFailed, RateLimited
from services.accounts import Accounts
from stores.bus import InProcessBus
from stores.redis.client import RedisClient
from stores.redis.throttle import RedisThrottle
from stores.throttle import FailureThrottle, Limit, MemoryThrottle, Outcome

LIMIT = Limit(3, 300.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def throttle(request: Any) -> AsyncIterator[FailureThrottle]:
    if request.param == "memory":
        yield MemoryThrottle(Clock())
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("prefix")
    client = RedisClient(url, prefix=prefix, threads=2, timeout_s=5.0)
    try:
        yield RedisThrottle(client)
    finally:
        client.close()


async def test_attempts_in_flight_count_and_the_limit_refuses_with_a_retry_time(
    throttle: FailureThrottle,
) -> None:
    attempts = [await throttle.begin("account:eve", LIMIT) for _ in range(LIMIT.attempts)]
    with pytest.raises(RateLimited) as refused:
        await throttle.begin("account:eve", LIMIT)
    assert 0 < refused.value.retry_after <= LIMIT.window_s
    await throttle.begin("account:other", LIMIT)  # keys are apart
    await throttle.end("account:eve", attempts[0], Outcome.WITHDRAWN)
    again = await throttle.begin("account:eve", LIMIT)  # a withdrawn attempt frees its place
    for attempt in (*attempts[1:], again):
        await throttle.end("account:eve", attempt, Outcome.FAILED)
    with pytest.raises(RateLimited):
        await throttle.begin("account:eve", LIMIT)  # failures stay counted after they end


async def test_a_success_forgets_the_keys_failures(throttle: FailureThrottle) -> None:
    for _ in range(LIMIT.attempts - 1):
        await throttle.end("account:ann", await throttle.begin("account:ann", LIMIT), Outcome.FAILED)
    await throttle.end("account:ann", await throttle.begin("account:ann", LIMIT), Outcome.SUCCEEDED)
    for _ in range(LIMIT.attempts):
        await throttle.begin("account:ann", LIMIT)


async def test_the_window_forgets_old_failures() -> None:
    clock = Clock()
    throttle = MemoryThrottle(clock)
    for _ in range(LIMIT.attempts):
        await throttle.end("k", await throttle.begin("k", LIMIT), Outcome.FAILED)
    clock.now += LIMIT.window_s - 1
    with pytest.raises(RateLimited) as refused:
        await throttle.begin("k", LIMIT)
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.now += 1
    await throttle.begin("k", LIMIT)


async def test_memory_is_bounded_by_the_number_of_keys() -> None:
    throttle = MemoryThrottle(Clock(), max_keys=2)
    for name in ("a", "b", "c"):
        await throttle.end(name, await throttle.begin(name, Limit(1, 60.0)), Outcome.FAILED)
    await throttle.begin("a", Limit(1, 60.0))  # the oldest key was forgotten
    with pytest.raises(RateLimited):
        await throttle.begin("c", Limit(1, 60.0))


class NoSessions:
    async def deliver(self, delivery: Any) -> int:
        return 0


class NoUsers:
    """A user store with nobody in it: every log-in verifies against the decoy hash."""

    async def get_user_by_username(self, username: str) -> None:
        return None


def accounts(throttle: FailureThrottle, **settings: Any) -> Accounts:
    return Accounts(NoUsers(), Settings(**settings), InProcessBus(NoSessions()), throttle)  # type: ignore[arg-type]


async def test_one_address_spraying_many_accounts_is_refused_and_others_are_not() -> None:
    sprayed = accounts(MemoryThrottle(trio.current_time), login_address_failures_limit=3)
    for n in range(3):
        with pytest.raises(AuthFailed):
            await sprayed.authenticate(f"victim{n}", "Summer2026!", address="203.0.113.7")
    with pytest.raises(RateLimited):
        await sprayed.authenticate("victim9", "Summer2026!", address="203.0.113.7")
    with pytest.raises(AuthFailed):  # another address, and an address that cannot tell clients apart
        await sprayed.authenticate("victim9", "Summer2026!", address="198.51.100.2")
    for _ in range(4):
        with pytest.raises(AuthFailed):
            await sprayed.authenticate(f"victim{_ + 10}", "Summer2026!", address=None)


async def test_failures_on_one_process_count_on_another(redis_url: str, prefix: str) -> None:
    """Two processes sharing Redis: a guesser who alternates between them gets one allowance."""
    clients = [RedisClient(redis_url, prefix=prefix, threads=2, timeout_s=5.0) for _ in range(2)]
    try:
        first, second = (accounts(RedisThrottle(client), login_failures_limit=4) for client in clients)
        for n in range(4):
            with pytest.raises(AuthFailed):
                await (first if n % 2 else second).authenticate("target", f"guess{n}", address=None)
        for process in (first, second):
            with pytest.raises(RateLimited):
                await process.authenticate("target", "guess-more", address=None)
    finally:
        for client in clients:
            client.close()
