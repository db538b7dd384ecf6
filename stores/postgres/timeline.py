"""PostgreSQL implementation of :class:`stores.timeline.TimelineStore`.

Each (user, stream) has a row in ``stream_heads`` holding its last sequence number. An append
bumps the head with an upsert and inserts the entry numbered by it, in one statement for a whole
fan-out. The bumped head stays locked until the transaction commits, so the next append to that
stream waits and numbers after it: numbers are gap-free (a rolled-back append rolls its head back
too) and entry *n* commits after entry *n - 1*, which is the visibility rule readers rely on.

Heads are locked in ascending user id order — within a statement by the ``ORDER BY``, across the
batches of a large fan-out by batching the sorted ids — so two fan-outs over overlapping users
always queue behind each other rather than deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack

from stores.postgres.database import Conn, Database, fetch_all, fetch_one
from stores.timeline import STREAMS, Entry

BATCH_USERS = 5000
"""Users per statement in a fan-out: bounds the statement's memory and lock list on the server
while keeping a 100,000-follower fan-out to 20 round trips."""

_APPEND = """
WITH heads AS (
    INSERT INTO stream_heads AS h (user_id, stream, seq)
    SELECT u, %(stream)s, 1 FROM unnest(%(users)s::bigint[]) AS u ORDER BY u
    ON CONFLICT (user_id, stream) DO UPDATE SET seq = h.seq + 1
    RETURNING user_id, seq
), entries AS (
    INSERT INTO stream_entries (user_id, stream, seq, type, body)
    SELECT user_id, %(stream)s, seq, %(type)s, %(body)s FROM heads
)
SELECT user_id, seq FROM heads
"""

_ENTRY = "seq, type, body, extract(epoch FROM created_at)::float8"


class PostgresTimelineStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self, user_ids: Sequence[int], stream: str, type: str, body: dict[str, Any]
    ) -> list[tuple[int, int]]:
        """See :meth:`TimelineStore.append`; duplicate ids get one entry, and the result is in
        ascending user id order. All users' entries commit together or not at all."""
        _check_stream(stream)
        users = sorted(set(user_ids))
        params = {"stream": stream, "type": type, "body": msgpack.packb(body)}

        async def insert(conn: Conn) -> list[tuple[int, int]]:
            allocated: list[tuple[int, int]] = []
            for start in range(0, len(users), BATCH_USERS):
                rows = await conn.execute(_APPEND, {**params, "users": users[start : start + BATCH_USERS]})
                allocated.extend(sorted(await rows.fetchall()))
            return allocated

        return await self._db.run(insert)

    async def read_after(self, user_id: int, stream: str, after: int, limit: int = 200) -> list[Entry]:
        return await self._entries(user_id, stream, "seq > %s ORDER BY seq", after, limit)

    async def read_before(
        self, user_id: int, stream: str, before: int | None = None, limit: int = 50
    ) -> list[Entry]:
        bound = 2**63 - 1 if before is None else before
        return await self._entries(user_id, stream, "seq < %s ORDER BY seq DESC", bound, limit)

    async def head(self, user_id: int, stream: str) -> int:
        _check_stream(stream)

        async def select(conn: Conn) -> int:
            row = await fetch_one(
                conn, "SELECT seq FROM stream_heads WHERE user_id = %s AND stream = %s", (user_id, stream)
            )
            return 0 if row is None else row[0]

        return await self._db.query(select)

    async def _entries(
        self, user_id: int, stream: str, seq_range: str, bound: int, limit: int
    ) -> list[Entry]:
        _check_stream(stream)

        async def select(conn: Conn) -> list[Entry]:
            rows = await fetch_all(
                conn,
                f"SELECT {_ENTRY} FROM stream_entries WHERE user_id = %s AND stream = %s AND {seq_range}"
                " LIMIT %s",
                (user_id, stream, bound, limit),
            )
            return [
                Entry(user_id, stream, seq, type_, msgpack.unpackb(body), created_at)
                for seq, type_, body, created_at in rows
            ]

        return await self._db.query(select)


def _check_stream(stream: str) -> None:
    """Reject unknown streams before they become rows no reader ever asks for."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")
