"""The failure throttle shared by every process of a site, in Redis (see ``stores.throttle``).

One sorted set per key (``throttle:<key>`` under the site's prefix): attempt id -> when it began, in
Redis server milliseconds (``TIME``), so the processes' clocks need not agree. Admitting an attempt
is one script — expire what the window forgot, count, refuse or add — so two processes cannot both
admit the last allowed attempt. The set expires with the window, so idle keys cost nothing.
"""

from __future__ import annotations

from typing import Any

from stores.redis.client import RedisClient
from stores.throttle import Limit, Outcome, attempt_id, refusal

# Returns {1} when admitted, {0, milliseconds until the oldest entry leaves the window} when not.
BEGIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]) + window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1}
"""


class RedisThrottle:
    """:class:`stores.throttle.FailureThrottle` shared through Redis."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._begin = client.sync.register_script(BEGIN)

    async def begin(self, key: str, limit: Limit) -> str:
        attempt = attempt_id()
        args = (limit.attempts, int(limit.window_s * 1000), attempt)
        answer: list[Any] = await self._client.run(
            lambda r: self._begin(keys=[self._key(key)], args=args, client=r)
        )
        if not answer[0]:
            raise refusal(int(answer[1]) / 1000)
        return attempt

    async def end(self, key: str, attempt: str, outcome: Outcome) -> None:
        name = self._key(key)
        if outcome is Outcome.SUCCEEDED:
            await self._client.run(lambda r: r.delete(name))
        elif outcome is Outcome.WITHDRAWN:
            await self._client.run(lambda r: r.zrem(name, attempt))

    def _key(self, key: str) -> str:
        return self._client.keys("throttle", key)
