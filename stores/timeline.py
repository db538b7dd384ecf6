"""The time-series role: per-user streams of events with gap-free sequence numbers.

Every stream of a user — ``home`` (posts from people they follow), ``posts`` (their own posts: the
user timeline), ``notifications``, ``activity`` (what they did), ``dm`` — is an append-only log
numbered 1, 2, 3… per (user, stream). The numbers are the push sequence numbers clients see, so a
client that reconnects with the last number it saw reads exactly what it missed: the store
guarantees that when entry *n* of a stream is visible, every entry below *n* is too.

Two backends implement it: the embedded relational one (PostgreSQL, default) and Cassandra (the
scale-out path, tables partitioned by user, stream and sequence bucket).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

STREAMS = ("home", "posts", "notifications", "activity", "dm")


@dataclass(frozen=True)
class Entry:
    user_id: int
    stream: str
    seq: int
    type: str
    body: dict[str, Any]
    created_at: float


class TimelineStore(Protocol):
    async def append(
        self, user_ids: Sequence[int], stream: str, type: str, body: dict[str, Any]
    ) -> list[tuple[int, int]]:
        """Append one entry to ``stream`` of each user; return ``(user_id, seq)`` for each.

        Sequence numbers are allocated per (user, stream), gap-free and in commit order; an
        append to many users (fan-out) is batched, not one round trip per user.
        """
        ...

    async def read_after(self, user_id: int, stream: str, after: int, limit: int = 200) -> list[Entry]:
        """Entries with ``seq > after``, oldest first (resume)."""
        ...

    async def read_before(
        self, user_id: int, stream: str, before: int | None = None, limit: int = 50
    ) -> list[Entry]:
        """Entries with ``seq < before`` (all when None), newest first (scrolling back)."""
        ...

    async def head(self, user_id: int, stream: str) -> int:
        """The last sequence number of the stream (0 when empty)."""
        ...
