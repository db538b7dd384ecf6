"""The failure-throttle role: how many recent failed attempts a key (an account, an address) has.

Online password guessing is stopped by counting failures per account and per client address over a
sliding window, and refusing attempts once a key has too many. Two rules make the count hold up:

- **An attempt counts from the moment it begins**, as a failure, until it ends: the password hash
  takes ~100 ms, and a guesser who sends fifty attempts at once must not have all fifty evaluated
  before the first failure is recorded. An attempt that ends well (or for another reason, an
  outage) is withdrawn; one whose holder died stays a failure until the window forgets it — the
  safe side.
- **The count is shared by every process of a site** (Redis, ``stores.redis.throttle``) when there
  are several: a guesser who spreads attempts over the processes behind a load balancer must not get
  one allowance each. A process alone keeps it in memory (:class:`MemoryThrottle`).

A key holds at most ``limit`` entries (an attempt beyond it is refused, not recorded), so memory per
key is bounded; the number of keys is bounded by the window (and, in memory, by ``max_keys``).
"""

from __future__ import annotations

import enum
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kernel.errors import RateLimited


class Outcome(enum.Enum):
    FAILED = "failed"
    """The attempt failed (a wrong password): it stays counted until the window forgets it."""
    SUCCEEDED = "succeeded"
    """The attempt succeeded: the key's failures are forgotten (the owner proved themself)."""
    WITHDRAWN = "withdrawn"
    """The attempt does not count (it succeeded for a key that must not be reset by a success, or
    it ended for another reason)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``attempts`` failures (in flight included) within ``window_s`` seconds."""

    attempts: int
    window_s: float


class FailureThrottle(Protocol):
    async def begin(self, key: str, limit: Limit) -> str:
        """Count one attempt on ``key`` (as a failure until :meth:`end`) and return its id, or
        raise :class:`~kernel.errors.RateLimited` (with when to retry) when ``key`` is at its limit."""
        ...

    async def end(self, key: str, attempt: str, outcome: Outcome) -> None:
        """The attempt ``begin`` returned is over."""
        ...


def attempt_id() -> str:
    return secrets.token_hex(8)


def refusal(retry_after: float) -> RateLimited:
    return RateLimited("too many failed sign-in attempts; retry later", max(0.0, retry_after))


class MemoryThrottle:
    """:class:`FailureThrottle` of one process. At most ``max_keys`` keys are tracked, the least
    recently failed forgotten first, so a flood of distinct usernames cannot exhaust memory."""

    def __init__(self, clock: Callable[[], float], *, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._entries: OrderedDict[str, dict[str, float]] = OrderedDict()
        """key -> attempt id -> when it began (insertion order is time order)."""

    async def begin(self, key: str, limit: Limit) -> str:
        now = self._clock()
        entries = self._entries.get(key, {})
        for attempt, began in list(entries.items()):
            if began > now - limit.window_s:
                break
            del entries[attempt]
        if len(entries) >= limit.attempts:
            raise refusal(next(iter(entries.values())) + limit.window_s - now)
        attempt = attempt_id()
        entries[attempt] = now
        self._entries[key] = entries
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_keys:
            self._entries.popitem(last=False)
        return attempt

    async def end(self, key: str, attempt: str, outcome: Outcome) -> None:
        if outcome is Outcome.SUCCEEDED:
            self._entries.pop(key, None)
        elif outcome is Outcome.WITHDRAWN:
            entries = self._entries.get(key)
            if entries is not None:
                entries.pop(attempt, None)
                if not entries:
                    del self._entries[key]
