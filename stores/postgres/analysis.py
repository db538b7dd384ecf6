"""PostgreSQL implementation of :class:`stores.analysis.AnalysisStore`."""

from __future__ import annotations

from stores.analysis import MediaModeration, ModerationState, TextKind
from stores.postgres.database import Database, fetch_all, fetch_one

_MODERATION = "id, owner_id, moderation, moderation_score, moderation_reason"


class PostgresAnalysisStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_moderation(
        self, media_id: int, state: ModerationState, score: float, reason: str, *, only_pending: bool = False
    ) -> None:
        await self._db.query(
            lambda conn: conn.execute(
                "UPDATE media SET moderation = %s, moderation_score = %s, moderation_reason = %s,"
                " updated_at = now() WHERE id = %s AND (NOT %s OR moderation = 'pending')",
                (state, score, reason, media_id, only_pending),
            )
        )

    async def moderation(self, media_ids: list[int]) -> dict[int, MediaModeration]:
        if not media_ids:
            return {}
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                f"SELECT {_MODERATION}, kind, CASE WHEN state <> 'removed' THEN variants END"
                " FROM media WHERE id = ANY(%s)",
                (media_ids,),
            ),
        )
        return {row[0]: MediaModeration(*row) for row in rows}

    async def flagged(self, *, before_id: int | None = None, limit: int = 50) -> list[MediaModeration]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                f"SELECT {_MODERATION} FROM media WHERE moderation = 'flagged' AND state <> 'removed'"
                " AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
                (before_id, before_id, limit),
            ),
        )
        return [MediaModeration(*row) for row in rows]

    async def frame_keys(self, media_id: int) -> list[str]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn, "SELECT key FROM media_frames WHERE media_id = %s ORDER BY t_s", (media_id,)
            ),
        )
        return [key for (key,) in rows]

    async def posts_with_media(self, media_id: int) -> list[int]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT id FROM posts WHERE media_ids @> ARRAY[%s]::bigint[] AND deleted_at IS NULL",
                (media_id,),
            ),
        )
        return [post_id for (post_id,) in rows]

    async def set_alignment(self, post_id: int, score: float) -> None:
        await self._db.run(
            lambda conn: conn.execute("UPDATE posts SET alignment = %s WHERE id = %s", (score, post_id))
        )

    async def alignments(self, post_ids: list[int]) -> dict[int, float]:
        if not post_ids:
            return {}
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT id, alignment FROM posts WHERE id = ANY(%s) AND alignment IS NOT NULL",
                (post_ids,),
            ),
        )
        return {post_id: score for post_id, score in rows}

    async def set_text_verdicts(self, kind: TextKind, verdicts: list[tuple[int, bool, float]]) -> None:
        if not verdicts:
            return
        ids, flags, scores = (list(column) for column in zip(*verdicts, strict=True))
        await self._db.query(
            lambda conn: conn.execute(
                "INSERT INTO text_verdicts (kind, object_id, score, flagged)"
                " SELECT %s, * FROM unnest(%s::bigint[], %s::float8[], %s::bool[])"
                " ON CONFLICT (kind, object_id) DO UPDATE SET score = excluded.score, flagged = excluded.flagged",
                (kind, ids, scores, flags),
            )
        )

    async def flagged_texts(self, kind: TextKind, object_ids: list[int]) -> set[int]:
        if not object_ids:
            return set()
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT object_id FROM text_verdicts WHERE kind = %s AND object_id = ANY(%s) AND flagged",
                (kind, object_ids),
            ),
        )
        return {object_id for (object_id,) in rows}

    async def recent_likes(self, user_id: int, limit: int) -> list[int]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT post_id FROM likes WHERE user_id = %s ORDER BY created_at DESC LIMIT %s",
                (user_id, limit),
            ),
        )
        return [post_id for (post_id,) in rows]

    async def record_view(self, user_id: int, post_id: int) -> None:
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO post_views (user_id, post_id) VALUES (%s, %s)"
                " ON CONFLICT (user_id, post_id) DO UPDATE SET viewed_at = now()",
                (user_id, post_id),
            )
        )

    async def recent_views(self, user_id: int, limit: int) -> list[int]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT post_id FROM post_views WHERE user_id = %s ORDER BY viewed_at DESC LIMIT %s",
                (user_id, limit),
            ),
        )
        return [post_id for (post_id,) in rows]

    async def mark_indexed(self, post_ids: list[int]) -> None:
        await self._db.query(
            lambda conn: conn.execute("UPDATE posts SET indexed_at = now() WHERE id = ANY(%s)", (post_ids,))
        )

    async def unindexed_posts(self, *, within_s: float, limit: int) -> list[int]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT id FROM posts WHERE indexed_at IS NULL AND deleted_at IS NULL"
                " AND created_at > now() - make_interval(secs => %s) ORDER BY created_at LIMIT %s",
                (within_s, limit),
            ),
        )
        return [post_id for (post_id,) in rows]

    async def shows_sensitive(self, user_id: int) -> bool:
        row = await self._db.query(
            lambda conn: fetch_one(conn, "SELECT show_sensitive FROM users WHERE id = %s", (user_id,)),
        )
        return bool(row and row[0])

    async def sees_flagged_media(self, user_id: int) -> bool:
        row = await self._db.query(
            lambda conn: fetch_one(
                conn, "SELECT show_sensitive OR moderator FROM users WHERE id = %s", (user_id,)
            ),
        )
        return bool(row and row[0])

    async def set_shows_sensitive(self, user_id: int, value: bool) -> None:
        await self._db.run(
            lambda conn: conn.execute("UPDATE users SET show_sensitive = %s WHERE id = %s", (value, user_id))
        )
