"""PostgreSQL implementation of :class:`stores.social.SocialStore`.

Two rules shape the writes:

* Every change to the follow/block graph first locks both users' rows, lowest id first. That
  serialises follow against block for a pair (a follow checked against a block that commits a
  moment later would otherwise slip through), cannot deadlock, and the counters the change then
  updates live on those same rows.
* Counters (followers, following, posts, likes, comments) change in the same statement as the rows
  they count, so they are exact whatever commits or rolls back.

Check and foreign-key violations surface as ``Invalid`` and ``NotFound``, so callers never see
psycopg's exceptions.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from psycopg.rows import class_row

from kernel.errors import Blocked, Forbidden, Invalid, NotFound
from stores.postgres.client_keys import once
from stores.postgres.database import Conn, Database, fetch_all, fetch_one
from stores.social import UNCHANGED, Comment, Post, Profile, Unchanged, UserPage

T = TypeVar("T")

_PROFILE = (
    "id AS user_id, username, display_name, bio, avatar_media_id,"
    " extract(epoch FROM created_at)::float8 AS created_at,"
    " follower_count AS followers, following_count AS following, post_count AS posts"
)
_POST = (
    "id, author_id, text, media_ids, reply_to, extract(epoch FROM created_at)::float8,"
    " extract(epoch FROM edited_at)::float8, like_count, comment_count, content_warning"
)
_COMMENT = "id, post_id, author_id, reply_to, text, extract(epoch FROM created_at)::float8 AS created_at"

# Applies the follows listed in the CTE ``changed`` (follower_id, followee_id) to both users'
# counters, with ``{sign}`` + or -. One UPDATE touches each users row once, as Postgres requires.
_COUNT_FOLLOWS = """
    UPDATE users u SET
        following_count = following_count {sign} (SELECT count(*) FROM changed c WHERE c.follower_id = u.id),
        follower_count = follower_count {sign} (SELECT count(*) FROM changed c WHERE c.followee_id = u.id)
    WHERE u.id IN (SELECT follower_id FROM changed UNION SELECT followee_id FROM changed)
"""


class PostgresSocialStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- profiles ----------------------------------------------------------------------
    async def get_profile(self, user_id: int) -> Profile | None:
        async def select(conn: Conn) -> Profile | None:
            cur = conn.cursor(row_factory=class_row(Profile))
            await cur.execute(f"SELECT {_PROFILE} FROM users WHERE id = %s", (user_id,))
            return await cur.fetchone()

        return await self._db.query(select)

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        avatar_media_id: int | None = None,
    ) -> Profile:
        async def update(conn: Conn) -> Profile:
            replaced = None
            if avatar_media_id is not None:
                await _require_attachable(conn, user_id, (avatar_media_id,), kinds=("image",))
                old = await conn.execute(
                    "SELECT avatar_media_id FROM users WHERE id = %s FOR UPDATE", (user_id,)
                )
                replaced = _found(await old.fetchone(), f"user {user_id}")[0]
            cur = conn.cursor(row_factory=class_row(Profile))
            await cur.execute(
                "UPDATE users SET display_name = coalesce(%s, display_name), bio = coalesce(%s, bio),"
                f" avatar_media_id = coalesce(%s, avatar_media_id) WHERE id = %s RETURNING {_PROFILE}",
                (display_name, bio, avatar_media_id, user_id),
            )
            row = await cur.fetchone()
            if replaced is not None and replaced != avatar_media_id:
                await _release_media(conn, (replaced,))
            return _found(row, f"user {user_id}")

        return await self._db.run(update)

    # --- graph -------------------------------------------------------------------------
    async def follow(self, follower_id: int, followee_id: int) -> bool:
        if follower_id == followee_id:
            raise Invalid("a user cannot follow themselves")

        async def insert(conn: Conn) -> bool:
            if not await _lock_pair(conn, follower_id, followee_id):
                raise NotFound("no such user")
            if await _blocked_between(conn, follower_id, followee_id):
                raise Blocked("no such user")  # the same words: a block is not revealed
            return await _changed(
                conn,
                "INSERT INTO follows (follower_id, followee_id) VALUES (%s, %s)"
                " ON CONFLICT DO NOTHING RETURNING follower_id, followee_id",
                (follower_id, followee_id),
                _COUNT_FOLLOWS.format(sign="+"),
            )

        return await self._db.run(insert)

    async def unfollow(self, follower_id: int, followee_id: int) -> bool:
        async def delete(conn: Conn) -> bool:
            await _lock_pair(conn, follower_id, followee_id)
            return await _changed(
                conn,
                "DELETE FROM follows WHERE follower_id = %s AND followee_id = %s"
                " RETURNING follower_id, followee_id",
                (follower_id, followee_id),
                _COUNT_FOLLOWS.format(sign="-"),
            )

        return await self._db.run(delete)

    async def block(self, blocker_id: int, blocked_id: int) -> bool:
        if blocker_id == blocked_id:
            raise Invalid("a user cannot block themselves")

        async def insert(conn: Conn) -> bool:
            if not await _lock_pair(conn, blocker_id, blocked_id):
                raise NotFound(f"user {blocker_id} or {blocked_id}")
            await _changed(
                conn,
                "DELETE FROM follows WHERE (follower_id, followee_id) IN ((%(a)s, %(b)s), (%(b)s, %(a)s))"
                " RETURNING follower_id, followee_id",
                {"a": blocker_id, "b": blocked_id},
                _COUNT_FOLLOWS.format(sign="-"),
            )
            cur = await conn.execute(
                "INSERT INTO blocks (blocker_id, blocked_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (blocker_id, blocked_id),
            )
            return cur.rowcount == 1

        return await self._db.run(insert)

    async def unblock(self, blocker_id: int, blocked_id: int) -> bool:
        async def delete(conn: Conn) -> bool:
            await _lock_pair(conn, blocker_id, blocked_id)
            cur = await conn.execute(
                "DELETE FROM blocks WHERE blocker_id = %s AND blocked_id = %s", (blocker_id, blocked_id)
            )
            return cur.rowcount == 1

        return await self._db.run(delete)

    async def blocked_between(self, a: int, b: int) -> bool:
        return await self._db.query(lambda conn: _blocked_between(conn, a, b))

    async def blocked_set(self, user_id: int) -> set[int]:
        rows = await self._rows(
            "SELECT blocked_id FROM blocks WHERE blocker_id = %(u)s"
            " UNION SELECT blocker_id FROM blocks WHERE blocked_id = %(u)s",
            {"u": user_id},
        )
        return {row[0] for row in rows}

    async def followers(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> UserPage:
        return await self._follow_page("followee_id", "follower_id", user_id, cursor, limit)

    async def following(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> UserPage:
        return await self._follow_page("follower_id", "followee_id", user_id, cursor, limit)

    async def _follow_page(
        self, key: str, other: str, user_id: int, cursor: str | None, limit: int
    ) -> UserPage:
        """One keyset page on (created_at, other id), newest first: stable under concurrent
        follows, unlike OFFSET, and served by the matching follows index."""
        where = f"{key} = %s"
        params: list[Any] = [user_id]
        if cursor is not None:
            where += f" AND (created_at, {other}) < (%s, %s)"
            params.extend(_decode_cursor(cursor))
        rows = await self._rows(
            f"SELECT {other}, created_at FROM follows WHERE {where}"
            f" ORDER BY created_at DESC, {other} DESC LIMIT %s",
            (*params, limit + 1),
        )
        page = rows[:limit]
        more = len(rows) > limit
        return UserPage(
            user_ids=[row[0] for row in page],
            next_cursor=_encode_cursor(page[-1][1], page[-1][0]) if more else None,
        )

    async def follower_ids(self, user_id: int) -> list[int]:
        rows = await self._rows("SELECT follower_id FROM follows WHERE followee_id = %s", (user_id,))
        return [row[0] for row in rows]

    async def followed_among(self, user_id: int, candidates: list[int]) -> list[int]:
        rows = await self._rows(
            "SELECT followee_id FROM follows WHERE follower_id = %s AND followee_id = ANY(%s)"
            " ORDER BY followee_id",
            (user_id, candidates),
        )
        return [row[0] for row in rows]

    async def liked_among(self, user_id: int, post_ids: list[int]) -> set[int]:
        if not post_ids:
            return set()
        rows = await self._rows(
            "SELECT post_id FROM likes WHERE user_id = %s AND post_id = ANY(%s)", (user_id, post_ids)
        )
        return {row[0] for row in rows}

    async def big_accounts_followed(self, user_id: int, min_followers: int) -> list[int]:
        rows = await self._rows(
            "SELECT u.id FROM follows f JOIN users u ON u.id = f.followee_id"
            " WHERE f.follower_id = %s AND u.follower_count >= %s ORDER BY u.id",
            (user_id, min_followers),
        )
        return [row[0] for row in rows]

    # --- posts -------------------------------------------------------------------------
    async def create_post(
        self,
        author_id: int,
        text: str,
        media_ids: tuple[int, ...],
        reply_to: int | None,
        *,
        client_key: str | None = None,
        content_warning: str | None = None,
    ) -> Post:
        async def insert(conn: Conn) -> Post:
            await _require_attachable(conn, author_id, media_ids, kinds=("image", "video"))
            row = await fetch_one(
                conn,
                "WITH created AS ("
                "  INSERT INTO posts (author_id, text, media_ids, reply_to, content_warning)"
                "  SELECT %(author)s, %(text)s, %(media)s, %(reply_to)s, %(warning)s"
                "  WHERE %(reply_to)s::bigint IS NULL"
                "     OR EXISTS (SELECT 1 FROM posts WHERE id = %(reply_to)s AND deleted_at IS NULL)"
                f"  RETURNING {_POST}"
                "), counted AS ("
                "  UPDATE users SET post_count = post_count + 1 WHERE id IN (SELECT author_id FROM created)"
                ") SELECT * FROM created",
                {
                    "author": author_id,
                    "text": text,
                    "media": list(media_ids),
                    "reply_to": reply_to,
                    "warning": content_warning,
                },
            )
            return _post(_found(row, f"post {reply_to} to reply to"))

        async def find(conn: Conn, post_id: int) -> Post:
            row = await fetch_one(
                conn, f"SELECT {_POST} FROM posts WHERE id = %s AND deleted_at IS NULL", (post_id,)
            )
            return replace(_post(_found(row, f"post {post_id}")), replayed=True)

        request = ["post", text, list(media_ids), reply_to]
        if content_warning is not None:  # keys claimed without one keep their fingerprint
            request.append(content_warning)
        return await self._db.run(
            lambda conn: once(conn, author_id, "post", client_key, request, insert, find)
        )

    async def get_posts(self, post_ids: list[int]) -> dict[int, Post]:
        rows = await self._rows(
            f"SELECT {_POST} FROM posts WHERE id = ANY(%s) AND deleted_at IS NULL", (post_ids,)
        )
        return {row[0]: _post(row) for row in rows}

    async def edit_post(
        self, post_id: int, author_id: int, text: str, *, content_warning: str | Unchanged | None = UNCHANGED
    ) -> Post:
        keep = content_warning is UNCHANGED
        warning = None if content_warning is UNCHANGED else content_warning

        async def update(conn: Conn) -> Post:
            await _lock_own_post(conn, post_id, author_id)
            row = await fetch_one(
                conn,
                # Alignment and indexing were of the old text: unset until the indexer redoes them
                # (the backfill finds the post again if its queued re-indexing is dropped).
                "UPDATE posts SET text = %s, edited_at = now(), alignment = NULL, indexed_at = NULL,"
                " content_warning = CASE WHEN %s THEN content_warning ELSE %s END"
                f" WHERE id = %s RETURNING {_POST}",
                (text, keep, warning, post_id),
            )
            return _post(_found(row, f"post {post_id}"))

        return await self._db.run(update)

    async def delete_post(self, post_id: int, author_id: int) -> None:
        async def update(conn: Conn) -> None:
            await _lock_own_post(conn, post_id, author_id)
            deleted = await fetch_one(
                conn, "UPDATE posts SET deleted_at = now() WHERE id = %s RETURNING media_ids", (post_id,)
            )
            # media before users, as create_post
            await _release_media(conn, _found(deleted, f"post {post_id}")[0])
            await conn.execute("UPDATE users SET post_count = post_count - 1 WHERE id = %s", (author_id,))

        await self._db.run(update)

    async def posts_by(
        self, author_ids: list[int], *, before_id: int | None = None, limit: int = 50
    ) -> list[Post]:
        rows = await self._rows(
            f"SELECT {_POST} FROM posts WHERE author_id = ANY(%s) AND deleted_at IS NULL"
            " AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
            (author_ids, before_id, before_id, limit),
        )
        return [_post(row) for row in rows]

    # --- likes and comments -----------------------------------------------------------
    async def like(self, user_id: int, post_id: int) -> bool:
        async def insert(conn: Conn) -> bool:
            visible = await fetch_one(
                conn, "SELECT 1 FROM posts WHERE id = %s AND deleted_at IS NULL", (post_id,)
            )
            if visible is None:
                raise NotFound(f"post {post_id}")
            return await _changed(
                conn,
                "INSERT INTO likes (post_id, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING RETURNING post_id",
                (post_id, user_id),
                "UPDATE posts SET like_count = like_count + 1 WHERE id IN (SELECT post_id FROM changed)",
            )

        return await self._db.run(insert)

    async def unlike(self, user_id: int, post_id: int) -> bool:
        return await self._db.run(
            lambda conn: _changed(
                conn,
                "DELETE FROM likes WHERE post_id = %s AND user_id = %s RETURNING post_id",
                (post_id, user_id),
                "UPDATE posts SET like_count = like_count - 1 WHERE id IN (SELECT post_id FROM changed)",
            )
        )

    async def add_comment(
        self, post_id: int, author_id: int, text: str, reply_to: int | None, *, client_key: str | None = None
    ) -> Comment:
        async def insert(conn: Conn) -> Comment:
            cur = conn.cursor(row_factory=class_row(Comment))
            await cur.execute(
                "WITH created AS ("
                "  INSERT INTO comments (post_id, author_id, reply_to, text)"
                "  SELECT id, %(author)s, %(reply_to)s, %(text)s FROM posts"
                "  WHERE id = %(post)s AND deleted_at IS NULL AND (%(reply_to)s::bigint IS NULL OR EXISTS ("
                "    SELECT 1 FROM comments WHERE id = %(reply_to)s AND post_id = %(post)s AND deleted_at IS NULL))"
                f"  RETURNING {_COMMENT}"
                "), counted AS ("
                "  UPDATE posts SET comment_count = comment_count + 1 WHERE id IN (SELECT post_id FROM created)"
                ") SELECT * FROM created",
                {"post": post_id, "author": author_id, "reply_to": reply_to, "text": text},
            )
            row = await cur.fetchone()
            return _found(row, f"post {post_id} or comment {reply_to} on it")

        async def find(conn: Conn, comment_id: int) -> Comment:
            cur = conn.cursor(row_factory=class_row(Comment))
            await cur.execute(
                f"SELECT {_COMMENT} FROM comments WHERE id = %s AND deleted_at IS NULL", (comment_id,)
            )
            row = await cur.fetchone()
            return replace(_found(row, f"comment {comment_id}"), replayed=True)

        request = ["comment", post_id, text, reply_to]
        return await self._db.run(
            lambda conn: once(conn, author_id, "comment", client_key, request, insert, find)
        )

    async def comments(self, post_id: int, *, after_id: int | None = None, limit: int = 50) -> list[Comment]:
        async def select(conn: Conn) -> list[Comment]:
            cur = conn.cursor(row_factory=class_row(Comment))
            await cur.execute(
                f"SELECT {_COMMENT} FROM comments c WHERE post_id = %s AND deleted_at IS NULL AND id > %s"
                " AND EXISTS (SELECT 1 FROM posts p WHERE p.id = c.post_id AND p.deleted_at IS NULL)"
                " ORDER BY id LIMIT %s",
                (post_id, after_id or 0, limit),
            )
            return await cur.fetchall()

        return await self._db.query(select)

    # --- plumbing ----------------------------------------------------------------------
    async def _rows(self, query: str, params: Sequence[Any] | dict[str, Any]) -> list[tuple[Any, ...]]:
        """A read-only query's rows (safe to retry)."""
        return await self._db.query(lambda conn: fetch_all(conn, query, params))


async def _lock_pair(conn: Conn, a: int, b: int) -> bool:
    """Lock both users' rows, lowest id first (see the module docstring); False if one is missing."""
    rows = await fetch_all(
        conn, "SELECT id FROM users WHERE id IN (%s, %s) ORDER BY id FOR NO KEY UPDATE", (a, b)
    )
    return len(rows) == 2


async def _blocked_between(conn: Conn, a: int, b: int) -> bool:
    row = await fetch_one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id, blocked_id) IN ((%(a)s, %(b)s), (%(b)s, %(a)s)))",
        {"a": a, "b": b},
    )
    return bool(_found(row, "EXISTS")[0])


async def _changed(conn: Conn, change: str, params: Sequence[Any] | dict[str, Any], count: str) -> bool:
    """Run ``change`` (an INSERT/DELETE … RETURNING) as the CTE ``changed`` and ``count`` (the
    counter UPDATE reading it) in the same statement; True if a row changed."""
    row = await fetch_one(
        conn, f"WITH changed AS ({change}), counted AS ({count}) SELECT count(*) FROM changed", params
    )
    return _found(row, "count")[0] > 0


async def _lock_own_post(conn: Conn, post_id: int, author_id: int) -> None:
    """Lock an undeleted post for a change by ``author_id``; raise NotFound or Forbidden."""
    row = await fetch_one(
        conn, "SELECT author_id FROM posts WHERE id = %s AND deleted_at IS NULL FOR UPDATE", (post_id,)
    )
    if row is None:
        raise NotFound(f"post {post_id}")
    if row[0] != author_id:
        raise Forbidden(f"post {post_id} belongs to another user")


def _post(row: tuple[Any, ...]) -> Post:
    """Build a Post from a ``_POST`` row (the array comes back as a list; Post holds a tuple)."""
    post_id, author_id, text, media_ids, reply_to, created_at, edited_at, likes, comments, warning = row
    return Post(
        post_id, author_id, text, tuple(media_ids), reply_to, created_at, edited_at, likes, comments, warning
    )


def _encode_cursor(created_at: datetime, user_id: int) -> str:
    """Opaque to clients; exact to the microsecond (a float epoch would round and skip rows)."""
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{user_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, user_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(stamp), int(user_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"malformed cursor {cursor!r}") from exc


def _found(row: T | None, what: str) -> T:
    """The row, or NotFound(``what``): the statement named a row that does not exist (or was
    deleted). Also narrows the type of aggregates, which always yield a row."""
    if row is None:
        raise NotFound(what)
    return row


async def _require_attachable(
    conn: Conn, owner_id: int, media_ids: Sequence[int], *, kinds: tuple[str, ...]
) -> None:
    """Media may be shown on a post or as an avatar only by its owner, and only once processed.

    Someone else's upload is ``NotFound`` (ids are sequential: an attacker must not learn which
    exist, let alone publish another user's unposted file), and so is a removed one (see
    :func:`_release_media`). The rows are locked, so a media item cannot change hands or state
    between this check and the insert that refers to it, and marked attached: from then on,
    detaching it removes it (an upload never attached is only removed after a long age).
    """
    if len(set(media_ids)) != len(media_ids):
        raise Invalid("a media item is attached twice")
    if not media_ids:
        return
    rows = await fetch_all(
        conn,
        "SELECT id, state, kind, attached_at IS NULL FROM media"
        " WHERE id = ANY(%s) AND owner_id = %s AND state <> 'removed' ORDER BY id FOR NO KEY UPDATE",
        (list(media_ids), owner_id),
    )
    found = {media_id: (state, kind) for media_id, state, kind, _ in rows}
    for media_id in media_ids:
        if media_id not in found:
            raise NotFound(f"you have no media {media_id}")
        state, kind = found[media_id]
        if state != "ready":
            raise Invalid(f"media {media_id} is {state}: attach it once it is ready")
        if kind not in kinds:
            raise Invalid(f"media {media_id} is a {kind}; only {' or '.join(kinds)} here")
    first_attached = [media_id for media_id, _, _, never in rows if never]
    if first_attached:
        await conn.execute("UPDATE media SET attached_at = now() WHERE id = ANY(%s)", (first_attached,))


async def _release_media(conn: Conn, media_ids: Sequence[int]) -> None:
    """Remove those of ``media_ids`` (just detached: a deleted post's, a replaced avatar) that no
    live post and no avatar shows any more.

    A removed item's files stop being served at once (``/media/files`` serves only what a live
    item holds) and the media janitor deletes them later: files cannot be deleted inside this
    transaction, which may still roll back. The rows are locked first, in a statement of their
    own, so the check below sees every attach that committed before (an attach locks them too,
    and one that comes after finds them removed).
    """
    if not media_ids:
        return
    await conn.execute("SELECT 1 FROM media WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (list(media_ids),))
    await conn.execute(
        "UPDATE media m SET state = 'removed', updated_at = now() WHERE id = ANY(%s) AND state = 'ready'"
        " AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.media_ids @> ARRAY[m.id] AND p.deleted_at IS NULL)"
        " AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar_media_id = m.id)",
        (list(media_ids),),
    )
