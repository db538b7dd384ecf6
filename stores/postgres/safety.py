"""PostgreSQL implementation of :class:`stores.safety.SafetyStore`.

A reporter's reports are serialised on their users row (locked for the filing), so the cap on open
reports holds under concurrent filings, and one open report per reporter and target is also a
unique index: reporting again updates it. A resolution and the closing of the reports it decides
are one transaction, so no open report is left behind by a decision, nor closed without one.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, cast

from kernel.errors import Invalid, LimitReached
from stores.postgres.database import Conn, Database, fetch_all, fetch_one, rowcount
from stores.safety import (
    Action,
    Mute,
    MutePage,
    QueueItem,
    QueuePage,
    Reason,
    Report,
    Resolution,
    Target,
    TargetKind,
)

_EPOCH = "extract(epoch FROM {})::float8"
_REPORT = (
    "id, reporter_id, target_kind, target_id, reason, note,"
    f" {_EPOCH.format('created_at')}, {_EPOCH.format('updated_at')}"
)
_RESOLUTION = (
    f"id, target_kind, target_id, moderator_id, action, note, reports_closed, {_EPOCH.format('created_at')}"
)
_MUTE = f"muted_id, {_EPOCH.format('created_at')}, {_EPOCH.format('expires_at')}"
_IN_FORCE = "(expires_at IS NULL OR expires_at > now())"

# One SELECT per kind of target, each yielding the columns of :class:`Target` after ``kind``.
_TARGETS: dict[TargetKind, str] = {
    "post": """
        SELECT p.id, p.author_id, u.username, p.text, p.content_warning, p.media_ids, NULL::bigint,
               NULL::bigint, p.deleted_at IS NOT NULL, coalesce(v.flagged, false), v.score
        FROM posts p JOIN users u ON u.id = p.author_id
        LEFT JOIN text_verdicts v ON v.kind = 'post' AND v.object_id = p.id
        WHERE p.id = ANY(%s)""",
    "comment": """
        SELECT c.id, c.author_id, u.username, c.text, NULL::text, '{}'::bigint[], c.post_id,
               NULL::bigint, c.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL,
               coalesce(v.flagged, false), v.score
        FROM comments c JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = c.author_id
        LEFT JOIN text_verdicts v ON v.kind = 'comment' AND v.object_id = c.id
        WHERE c.id = ANY(%s)""",
    "message": """
        SELECT m.id, m.sender_id, u.username, m.text, NULL::text, '{}'::bigint[], NULL::bigint,
               m.conversation_id, false, coalesce(v.flagged, false), v.score
        FROM messages m JOIN users u ON u.id = m.sender_id
        LEFT JOIN text_verdicts v ON v.kind = 'message' AND v.object_id = m.id
        WHERE m.id = ANY(%s)""",
    "user": """
        SELECT u.id, u.id, u.username, concat_ws(E'\\n', u.display_name, nullif(u.bio, '')), NULL::text,
               '{}'::bigint[], NULL::bigint, NULL::bigint, false, false, NULL::real
        FROM users u WHERE u.id = ANY(%s)""",
}

# The queue: targets of open reports, and flagged post and comment texts that no resolution has
# decided since they were written (an edit writes a post anew). Direct messages are private: the
# classifier's verdict on one hides it for its readers, and moderators see it only when reported.
_QUEUE = """
    WITH items AS (
        SELECT target_kind AS kind, target_id, updated_at AS at FROM reports WHERE resolution_id IS NULL
        UNION ALL
        SELECT 'post', p.id, coalesce(p.edited_at, p.created_at)
        FROM text_verdicts v JOIN posts p ON p.id = v.object_id
        WHERE v.kind = 'post' AND v.flagged AND p.deleted_at IS NULL AND NOT EXISTS (
            SELECT 1 FROM moderation_resolutions r WHERE r.target_kind = 'post' AND r.target_id = p.id
            AND r.created_at >= coalesce(p.edited_at, p.created_at))
        UNION ALL
        SELECT 'comment', c.id, c.created_at
        FROM text_verdicts v JOIN comments c ON c.id = v.object_id JOIN posts p ON p.id = c.post_id
        WHERE v.kind = 'comment' AND v.flagged AND c.deleted_at IS NULL AND p.deleted_at IS NULL
        AND NOT EXISTS (
            SELECT 1 FROM moderation_resolutions r WHERE r.target_kind = 'comment' AND r.target_id = c.id
            AND r.created_at >= c.created_at)
    ), ranked AS (
        SELECT kind, target_id, max(at) AS at FROM items GROUP BY kind, target_id
    )
    SELECT kind, target_id, at, extract(epoch FROM at)::float8 FROM ranked
    WHERE %(at)s::timestamptz IS NULL OR (at, kind, target_id) < (%(at)s::timestamptz, %(kind)s::text, %(id)s::bigint)
    ORDER BY at DESC, kind DESC, target_id DESC LIMIT %(limit)s
"""
_REPORTED = """
    SELECT target_kind, target_id, array_agg(DISTINCT reason ORDER BY reason), count(*),
           (array_agg(note ORDER BY updated_at DESC) FILTER (WHERE note <> ''))[1:5]
    FROM reports
    WHERE resolution_id IS NULL
      AND (target_kind, target_id) IN (SELECT * FROM unnest(%s::text[], %s::bigint[]))
    GROUP BY target_kind, target_id
"""


class PostgresSafetyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- reports and the queue ----------------------------------------------------------
    async def target(self, kind: TargetKind, target_id: int) -> Target | None:
        return (await self._db.query(lambda conn: _targets(conn, kind, [target_id]))).get(target_id)

    async def report(
        self,
        reporter_id: int,
        kind: TargetKind,
        target_id: int,
        reason: Reason,
        note: str,
        *,
        max_open: int,
    ) -> Report:
        key = {"reporter": reporter_id, "kind": kind, "target": target_id, "reason": reason, "note": note}

        async def file(conn: Conn) -> Report:
            await conn.execute("SELECT 1 FROM users WHERE id = %s FOR NO KEY UPDATE", (reporter_id,))
            row = await fetch_one(
                conn,
                "UPDATE reports SET reason = %(reason)s, note = %(note)s, updated_at = now()"
                " WHERE reporter_id = %(reporter)s AND target_kind = %(kind)s AND target_id = %(target)s"
                f" AND resolution_id IS NULL RETURNING {_REPORT}",
                key,
            )
            if row is not None:
                return _report(row, created=False)
            count = await fetch_one(
                conn,
                "SELECT count(*) FROM reports WHERE reporter_id = %s AND resolution_id IS NULL",
                (reporter_id,),
            )
            if count is not None and count[0] >= max_open:
                raise LimitReached(
                    f"you have {max_open} reports waiting for a moderator; file more once they are handled"
                )
            row = await fetch_one(
                conn,
                "INSERT INTO reports (reporter_id, target_kind, target_id, reason, note)"
                f" VALUES (%(reporter)s, %(kind)s, %(target)s, %(reason)s, %(note)s) RETURNING {_REPORT}",
                key,
            )
            assert row is not None
            return _report(row, created=True)

        return await self._db.run(file)

    async def queue(self, *, cursor: str | None = None, limit: int = 50) -> QueuePage:
        at, kind, target_id = _decode_cursor(cursor) if cursor is not None else (None, None, None)

        async def select(conn: Conn) -> QueuePage:
            rows = await fetch_all(
                conn, _QUEUE, {"at": at, "kind": kind, "id": target_id, "limit": limit + 1}
            )
            page, more = rows[:limit], len(rows) > limit
            reported = {
                (k, t): (tuple(reasons), count, tuple(notes or ()))
                async for k, t, reasons, count, notes in await conn.execute(
                    _REPORTED, ([r[0] for r in page], [r[1] for r in page])
                )
            }
            targets: dict[tuple[str, int], Target] = {}
            for target_kind in {r[0] for r in page}:
                ids = [r[1] for r in page if r[0] == target_kind]
                for found in (await _targets(conn, target_kind, ids)).values():
                    targets[(target_kind, found.id)] = found
            items = [
                QueueItem(targets[(k, t)], *reported.get((k, t), ((), 0, ())), updated_at=epoch)
                for k, t, _, epoch in page
                if (k, t) in targets  # a reported account or message is never deleted; this is a guard
            ]
            last = page[-1] if page else None
            next_cursor = _encode_cursor(last[2], last[0], last[1]) if more and last else None
            return QueuePage(items, next_cursor)

        return await self._db.query(select)

    async def resolve(
        self, moderator_id: int, kind: TargetKind, target_id: int, action: Action, note: str
    ) -> Resolution:
        async def decide(conn: Conn) -> Resolution:
            row = await fetch_one(
                conn,
                "INSERT INTO moderation_resolutions (target_kind, target_id, moderator_id, action, note,"
                " reports_closed) VALUES (%s, %s, %s, %s, %s, 0) RETURNING id",
                (kind, target_id, moderator_id, action, note),
            )
            assert row is not None
            closed = await rowcount(
                conn,
                "UPDATE reports SET resolution_id = %s"
                " WHERE target_kind = %s AND target_id = %s AND resolution_id IS NULL",
                (row[0], kind, target_id),
            )
            if kind != "user":
                await _apply(conn, kind, target_id, action)
            resolved = await fetch_one(
                conn,
                f"UPDATE moderation_resolutions SET reports_closed = %s WHERE id = %s RETURNING {_RESOLUTION}",
                (closed, row[0]),
            )
            assert resolved is not None
            return Resolution(*resolved)

        return await self._db.run(decide)

    # --- mutes --------------------------------------------------------------------------
    async def mute(self, muter_id: int, muted_id: int, *, duration_s: float | None) -> tuple[Mute, bool]:
        async def upsert(conn: Conn) -> tuple[Mute, bool]:
            before = await fetch_one(
                conn,
                f"SELECT {_IN_FORCE} FROM mutes WHERE muter_id = %s AND muted_id = %s FOR UPDATE",
                (muter_id, muted_id),
            )
            row = await fetch_one(
                conn,
                "INSERT INTO mutes (muter_id, muted_id, expires_at)"
                " VALUES (%s, %s, now() + make_interval(secs => %s))"
                " ON CONFLICT (muter_id, muted_id) DO UPDATE SET expires_at = excluded.expires_at,"
                "   created_at = CASE WHEN mutes.expires_at IS NULL OR mutes.expires_at > now()"
                "                THEN mutes.created_at ELSE now() END"
                f" RETURNING {_MUTE}",
                (muter_id, muted_id, duration_s),
            )
            assert row is not None
            return Mute(*row), not (before is not None and before[0])

        return await self._db.run(upsert)

    async def unmute(self, muter_id: int, muted_id: int) -> bool:
        row = await self._db.query(
            lambda conn: fetch_one(
                conn,
                f"DELETE FROM mutes WHERE muter_id = %s AND muted_id = %s RETURNING {_IN_FORCE}",
                (muter_id, muted_id),
            )
        )
        return bool(row and row[0])

    async def muted_set(self, user_id: int) -> set[int]:
        rows = await self._rows(f"SELECT muted_id FROM mutes WHERE muter_id = %s AND {_IN_FORCE}", (user_id,))
        return {row[0] for row in rows}

    async def muters_of(self, user_id: int) -> set[int]:
        rows = await self._rows(f"SELECT muter_id FROM mutes WHERE muted_id = %s AND {_IN_FORCE}", (user_id,))
        return {row[0] for row in rows}

    async def mutes(self, user_id: int, *, cursor: str | None = None, limit: int = 50) -> MutePage:
        after: tuple[Any, ...] = (None, None)
        if cursor is not None:
            stamp, _, muted = _decode_cursor(cursor)
            after = (stamp, muted)
        rows = await self._rows(
            f"SELECT {_MUTE}, created_at FROM mutes WHERE muter_id = %(u)s AND {_IN_FORCE}"
            " AND (%(at)s::timestamptz IS NULL OR (created_at, muted_id) < (%(at)s::timestamptz, %(id)s::bigint))"
            " ORDER BY created_at DESC, muted_id DESC LIMIT %(limit)s",
            {"u": user_id, "at": after[0], "id": after[1], "limit": limit + 1},
        )
        page = rows[:limit]
        next_cursor = _encode_cursor(page[-1][3], "mute", page[-1][0]) if len(rows) > limit else None
        return MutePage([Mute(*row[:3]) for row in page], next_cursor)

    async def _rows(self, query: str, params: tuple[Any, ...] | dict[str, Any]) -> list[tuple[Any, ...]]:
        return await self._db.query(lambda conn: fetch_all(conn, query, params))


def _report(row: tuple[Any, ...], *, created: bool) -> Report:
    report_id, reporter_id, kind, target_id, reason, note, created_at, updated_at = row
    return Report(report_id, reporter_id, kind, target_id, reason, note, created_at, updated_at, created)


async def _targets(conn: Conn, kind: TargetKind | str, ids: list[int]) -> dict[int, Target]:
    found: dict[int, Target] = {}
    for row in await fetch_all(conn, _TARGETS[cast(TargetKind, kind)], (ids,)):
        (target_id, author_id, username, text, warning, media_ids, post_id, conversation_id) = row[:8]
        removed, flagged, score = row[8:]
        found[target_id] = Target(
            cast(TargetKind, kind),
            target_id,
            author_id,
            username,
            text,
            warning,
            tuple(media_ids),
            post_id,
            conversation_id,
            removed,
            flagged,
            score,
        )
    return found


async def _apply(conn: Conn, kind: TargetKind, target_id: int, action: Action) -> None:
    """What a decision does to a text: ``hide`` flags it for everyone, ``dismiss`` clears a flag
    (the classifier was wrong), ``remove`` deletes a comment (posts: see ``resolve``)."""
    if action == "hide":
        await conn.execute(
            "INSERT INTO text_verdicts (kind, object_id, score, flagged) VALUES (%s, %s, 1, true)"
            " ON CONFLICT (kind, object_id) DO UPDATE SET flagged = true",
            (kind, target_id),
        )
    elif action == "dismiss":
        await conn.execute(
            "UPDATE text_verdicts SET flagged = false WHERE kind = %s AND object_id = %s", (kind, target_id)
        )
    elif kind == "comment":
        await conn.execute(
            "WITH removed AS (UPDATE comments SET deleted_at = now() WHERE id = %s AND deleted_at IS NULL"
            " RETURNING post_id)"
            " UPDATE posts SET comment_count = comment_count - 1 WHERE id IN (SELECT post_id FROM removed)",
            (target_id,),
        )


def _encode_cursor(stamp: datetime, kind: str, target_id: int) -> str:
    """A keyset position (time, kind, id) for the queue and mute lists: opaque to clients, exact
    to the microsecond (a float epoch would round and skip rows)."""
    return base64.urlsafe_b64encode(f"{stamp.isoformat()}|{kind}|{target_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str, int]:
    try:
        stamp, kind, target_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        if not kind.isidentifier() or not -(2**63) <= int(target_id) < 2**63:
            raise ValueError(cursor)  # forged: what PostgreSQL would refuse is a bad_request here
        return datetime.fromisoformat(stamp), kind, int(target_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Invalid(f"malformed cursor {cursor!r}") from exc
