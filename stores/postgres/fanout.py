"""The fan-out ledger in PostgreSQL: two columns of ``posts`` (migration 0008)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from stores.postgres.database import Database, fetch_all, fetch_one

CLAIM = (
    "UPDATE posts SET fanout_claimed_at = now() WHERE id IN ("
    "  SELECT id FROM posts WHERE fanned_out_at IS NULL AND deleted_at IS NULL"
    "  AND created_at < {created_before}"
    "  AND (fanout_claimed_at IS NULL OR fanout_claimed_at < {claimed_before})"
    "  ORDER BY created_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
    ") RETURNING id, created_at"
)
"""Claim pending posts created, and last claimed, before two bounds (SQL expressions)."""
AGO = "now() - make_interval(secs => %({})s)"


class PostgresFanoutLedger:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def done(self, post_id: int) -> None:
        await self._db.query(
            lambda conn: conn.execute(
                "UPDATE posts SET fanned_out_at = now() WHERE id = %s AND fanned_out_at IS NULL", (post_id,)
            )
        )

    async def claim_stuck(self, *, older_than_s: float, lease_s: float, limit: int) -> list[int]:
        sql = CLAIM.format(created_before=AGO.format("older"), claimed_before=AGO.format("lease"))
        return await self._claim(sql, {"older": older_than_s, "lease": lease_s, "limit": limit})

    async def clock(self) -> datetime:
        row = await self._db.query(lambda conn: fetch_one(conn, "SELECT now()"))
        assert row is not None
        moment: datetime = row[0]
        return moment

    async def claim_orphans(self, *, before: datetime, limit: int) -> list[int]:
        sql = CLAIM.format(created_before="%(before)s", claimed_before="%(before)s")
        return await self._claim(sql, {"before": before, "limit": limit})

    async def _claim(self, sql: str, params: dict[str, Any]) -> list[int]:
        """Run one claim; the ids oldest first (``RETURNING`` does not keep the subquery's order)."""
        rows = await self._db.run(lambda conn: fetch_all(conn, sql, params))
        return [post_id for post_id, _ in sorted(rows, key=lambda row: row[1])]
