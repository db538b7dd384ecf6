"""The fan-out ledger in PostgreSQL: two columns of ``posts`` (migration 0008)."""

from __future__ import annotations

from stores.postgres.database import Database


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
        rows = await self._db.run(
            lambda conn: conn.execute(
                "UPDATE posts SET fanout_claimed_at = now() WHERE id IN ("
                "  SELECT id FROM posts WHERE fanned_out_at IS NULL AND deleted_at IS NULL"
                "  AND created_at < now() - make_interval(secs => %s)"
                "  AND (fanout_claimed_at IS NULL OR fanout_claimed_at < now() - make_interval(secs => %s))"
                "  ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED"
                ") RETURNING id, created_at",
                (older_than_s, lease_s, limit),
            ).fetchall()
        )
        return [post_id for post_id, _ in sorted(rows, key=lambda row: row[1])]
