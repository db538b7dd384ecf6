"""PostgreSQL implementation of :class:`stores.media.MediaStore`.

Claiming uses ``FOR UPDATE SKIP LOCKED``: concurrent dispatchers (in this process or in others) each
take a different due job without waiting on each other's row locks. Every state change after the
claim is *fenced* by ``lease_token``, so only the current lease holder can move the job on.

Removed media (see :class:`stores.media.MediaState`) keep their row until the janitor has deleted
their files: which files a live item still holds is asked of ``media_files`` (public files),
``media.original_key`` and ``media_frames`` (private ones), each through an index.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from stores.blobs import Blob
from stores.media import (
    ClaimedJob,
    JobStatus,
    MediaKind,
    MediaRecord,
    MediaState,
    RemovedMedia,
    SampledFrame,
    Upload,
)
from stores.postgres.database import Conn, Database, fetch_all, fetch_one, rowcount

_MEDIA_COLUMNS = "id, owner_id, kind, state, progress, reason, variants, original_key, original_bytes"

# Fair between users: of the due jobs, one whose owner has the fewest jobs running now goes first
# (then the oldest), so one user's hundred uploads do not keep everyone else's waiting.
_CLAIM = """
WITH busy AS (
    SELECT m.owner_id, count(*) AS running
    FROM media_jobs r JOIN media m ON m.id = r.media_id
    WHERE r.state = 'running' AND r.lease_expires_at > now()
    GROUP BY m.owner_id
), due AS (
    SELECT j.id FROM media_jobs j
    JOIN media m ON m.id = j.media_id
    LEFT JOIN busy b ON b.owner_id = m.owner_id
    WHERE (j.state = 'queued' AND j.run_after <= now())
       OR (j.state = 'running' AND j.lease_expires_at <= now())
    ORDER BY coalesce(b.running, 0), j.run_after, j.id
    LIMIT 1
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE media_jobs j
SET state = 'running', attempts = j.attempts + 1, lease_token = %(token)s,
    lease_expires_at = now() + make_interval(secs => %(lease)s), updated_at = now()
FROM due, media m
WHERE j.id = due.id AND m.id = j.media_id
RETURNING j.id, j.media_id, m.owner_id, m.kind, m.original_key, j.attempts, j.last_error
"""

_FENCE = "WHERE id = %(job)s AND lease_token = %(token)s AND state = 'running'"

HOLDS_FILE = (
    "SELECT EXISTS (SELECT 1 FROM media_files f JOIN media m ON m.id = f.media_id"
    " WHERE f.key = %s AND m.state <> 'removed')"
)
"""Asked for every file served: two index probes (media_files' key, then media's id)."""

# A removed item's files, less those a live item holds too (the same content uploaded twice).
_REMOVED = """
SELECT m.id,
    ARRAY(SELECT f.key FROM media_files f WHERE f.media_id = m.id AND NOT EXISTS (
        SELECT 1 FROM media_files o JOIN media live ON live.id = o.media_id
        WHERE o.key = f.key AND live.state <> 'removed')),
    ARRAY(SELECT p.key FROM (SELECT m.original_key UNION SELECT key FROM media_frames WHERE media_id = m.id) p (key)
        WHERE NOT EXISTS (SELECT 1 FROM media live WHERE live.original_key = p.key AND live.state <> 'removed')
          AND NOT EXISTS (SELECT 1 FROM media_frames o JOIN media live ON live.id = o.media_id
                          WHERE o.key = p.key AND live.state <> 'removed'))
FROM media m WHERE m.state = 'removed' ORDER BY m.id LIMIT %s
"""


def _media(row: dict[str, Any]) -> MediaRecord:
    state = MediaState(row["state"])
    return MediaRecord(
        id=row["id"],
        owner_id=row["owner_id"],
        kind=MediaKind(row["kind"]),
        state=state,
        progress=float(row["progress"]),
        reason=row["reason"],
        variants=None if state is MediaState.REMOVED else row["variants"],
        original_key=row["original_key"],
        original_bytes=row["original_bytes"],
    )


def _valid_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def _insert_media(conn: Conn, owner_id: int, kind: MediaKind, original: Blob) -> MediaRecord:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"INSERT INTO media (owner_id, kind, original_key, original_bytes) "
            f"VALUES (%s, %s, %s, %s) RETURNING {_MEDIA_COLUMNS}",
            (owner_id, str(kind), original.key, original.size),
        )
        row = await cur.fetchone()
        assert row is not None
        await cur.execute("INSERT INTO media_jobs (media_id) VALUES (%s)", (row["id"],))
    return _media(row)


class PostgresMediaStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_media(self, owner_id: int, kind: MediaKind, original: Blob) -> MediaRecord:
        return await self._db.run(lambda conn: _insert_media(conn, owner_id, kind, original))

    async def get_media(self, media_id: int) -> MediaRecord | None:
        async def read(conn: Conn) -> MediaRecord | None:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = %s", (media_id,))
                row = await cur.fetchone()
            return None if row is None else _media(row)

        return await self._db.query(read)

    async def create_upload(self, owner_id: int, length: int) -> Upload:
        upload = Upload(str(uuid.uuid4()), owner_id, length, None)
        await self._db.run(
            lambda conn: conn.execute(
                "INSERT INTO media_uploads (id, owner_id, length) VALUES (%s, %s, %s)",
                (upload.id, owner_id, length),
            )
        )
        return upload

    async def get_upload(self, upload_id: str) -> Upload | None:
        key = _valid_uuid(upload_id)
        if key is None:
            return None
        row = await self._db.query(
            lambda conn: fetch_one(
                conn, "SELECT owner_id, length, media_id FROM media_uploads WHERE id = %s", (key,)
            ),
        )
        if row is None:
            return None
        owner_id, length, media_id = row
        return Upload(str(key), owner_id, length, media_id)

    async def pending_count(self, owner_id: int) -> int:
        row = await self._db.query(
            lambda conn: fetch_one(
                conn,
                "SELECT count(*) FROM media WHERE owner_id = %s AND state IN ('queued', 'running')",
                (owner_id,),
            )
        )
        return int(row[0]) if row else 0

    async def abandoned_uploads(self, older_than_s: float, limit: int) -> list[str]:
        rows = await self._db.query(
            lambda conn: fetch_all(
                conn,
                "SELECT id FROM media_uploads WHERE media_id IS NULL"
                " AND created_at < now() - make_interval(secs => %s) ORDER BY created_at LIMIT %s",
                (older_than_s, limit),
            )
        )
        return [str(upload_id) for (upload_id,) in rows]

    async def forget_upload(self, upload_id: str) -> bool:
        deleted = await self._db.query(
            lambda conn: rowcount(
                conn, "DELETE FROM media_uploads WHERE id = %s AND media_id IS NULL", (upload_id,)
            )
        )
        return bool(deleted)

    async def complete_upload(self, upload_id: str, kind: MediaKind, original: Blob) -> MediaRecord:
        async def complete(conn: Conn) -> MediaRecord:
            row = await fetch_one(
                conn, "SELECT owner_id, media_id FROM media_uploads WHERE id = %s FOR UPDATE", (upload_id,)
            )
            if row is None:
                raise LookupError(upload_id)
            owner_id, media_id = row
            if media_id is not None:
                async with conn.cursor(row_factory=dict_row) as cur:
                    await cur.execute(f"SELECT {_MEDIA_COLUMNS} FROM media WHERE id = %s", (media_id,))
                    existing = await cur.fetchone()
                assert existing is not None
                return _media(existing)
            media = await _insert_media(conn, owner_id, kind, original)
            await conn.execute("UPDATE media_uploads SET media_id = %s WHERE id = %s", (media.id, upload_id))
            return media

        return await self._db.run(complete)

    async def holds_file(self, key: str) -> bool:
        row = await self._db.query(lambda conn: fetch_one(conn, HOLDS_FILE, (key,)))
        return bool(row and row[0])

    async def remove_unattached(self, older_than_s: float, limit: int) -> int:
        # Locked and re-checked before the update: an attach that commits first (it sets
        # attached_at) wins; one that comes later finds the item removed.
        return await self._db.run(
            lambda conn: rowcount(
                conn,
                "UPDATE media SET state = 'removed', updated_at = now() WHERE id IN ("
                "  SELECT id FROM media WHERE attached_at IS NULL AND state IN ('ready', 'failed')"
                "  AND created_at < now() - make_interval(secs => %s)"
                "  ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
                (older_than_s, limit),
            )
        )

    async def removed_media(self, limit: int) -> list[RemovedMedia]:
        rows = await self._db.query(lambda conn: fetch_all(conn, _REMOVED, (limit,)))
        return [RemovedMedia(media_id, tuple(public), tuple(private)) for media_id, public, private in rows]

    async def forget_media(self, media_id: int) -> bool:
        deleted = await self._db.query(
            lambda conn: rowcount(conn, "DELETE FROM media WHERE id = %s AND state = 'removed'", (media_id,))
        )
        return bool(deleted)

    async def claim_job(self, lease_s: float) -> ClaimedJob | None:
        token = str(uuid.uuid4())

        async def claim(conn: Conn) -> ClaimedJob | None:
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(_CLAIM, {"token": token, "lease": lease_s})
                row = await cur.fetchone()
            if row is None:
                return None
            await conn.execute(
                "UPDATE media SET state = 'running', progress = 0, updated_at = now() WHERE id = %s",
                (row["media_id"],),
            )
            return ClaimedJob(
                id=row["id"],
                media_id=row["media_id"],
                owner_id=row["owner_id"],
                kind=MediaKind(row["kind"]),
                original_key=row["original_key"],
                attempts=row["attempts"],
                lease_token=token,
                last_error=row["last_error"],
            )

        # Not idempotent: a claim that committed but whose reply was lost must not be taken twice
        # by this worker; its lease simply expires and the job is claimed again.
        return await self._db.run(claim)

    async def renew_lease(self, job: ClaimedJob, lease_s: float) -> bool:
        return await self._fenced(
            job,
            "UPDATE media_jobs SET lease_expires_at = now() + make_interval(secs => %(lease)s) " + _FENCE,
            {"lease": lease_s},
        )

    async def report_progress(self, job: ClaimedJob, progress: float) -> None:
        await self._db.query(
            lambda conn: conn.execute(
                "UPDATE media SET progress = %s, updated_at = now() WHERE id = %s AND state = 'running'",
                (progress, job.media_id),
            ),
        )

    async def finish_ready(
        self, job: ClaimedJob, variants: dict[str, Any], frames: list[SampledFrame]
    ) -> bool:
        async def finish(conn: Conn) -> bool:
            if not await _end_job(conn, job, MediaState.READY, None):
                return False
            await conn.execute(
                "UPDATE media SET state = 'ready', progress = 1, reason = NULL, variants = %s, "
                "updated_at = now() WHERE id = %s",
                (Jsonb(variants), job.media_id),
            )
            await conn.execute(  # which media hold each public file: what /media/files/{key} asks
                "INSERT INTO media_files (key, media_id) SELECT key, id"
                " FROM media, unnest(media_file_keys(variants)) AS key WHERE id = %s ON CONFLICT DO NOTHING",
                (job.media_id,),
            )
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO media_frames (media_id, t_s, key, width, height) VALUES (%s, %s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    [(job.media_id, f.t_s, f.key, f.width, f.height) for f in frames],
                )
            return True

        return await self._db.run(finish)

    async def finish_failed(self, job: ClaimedJob, reason: str) -> bool:
        async def finish(conn: Conn) -> bool:
            if not await _end_job(conn, job, MediaState.FAILED, reason):
                return False
            await conn.execute(
                "UPDATE media SET state = 'failed', reason = %s, updated_at = now() WHERE id = %s",
                (reason, job.media_id),
            )
            return True

        return await self._db.run(finish)

    async def retry_later(self, job: ClaimedJob, error: str, delay_s: float) -> bool:
        async def requeue(conn: Conn) -> bool:
            moved = await rowcount(
                conn,
                "UPDATE media_jobs SET state = 'queued', lease_token = NULL, lease_expires_at = NULL, "
                "run_after = now() + make_interval(secs => %(delay)s), last_error = %(error)s, "
                "updated_at = now() " + _FENCE,
                {"job": job.id, "token": job.lease_token, "delay": delay_s, "error": error},
            )
            if moved:
                await conn.execute(
                    "UPDATE media SET state = 'queued', progress = 0, updated_at = now() WHERE id = %s",
                    (job.media_id,),
                )
            return moved == 1

        return await self._db.run(requeue)

    async def job_status(self, media_id: int) -> JobStatus | None:
        row = await self._db.query(
            lambda conn: fetch_one(
                conn,
                "SELECT state, attempts, completions, last_error FROM media_jobs WHERE media_id = %s",
                (media_id,),
            ),
        )
        return None if row is None else JobStatus(MediaState(row[0]), row[1], row[2], row[3])

    async def _fenced(self, job: ClaimedJob, sql: str, params: dict[str, Any]) -> bool:
        args = {"job": job.id, "token": job.lease_token, **params}
        return await self._db.run(lambda conn: rowcount(conn, sql, args)) == 1


async def _end_job(conn: Conn, job: ClaimedJob, state: MediaState, error: str | None) -> bool:
    """Move a job this claim still holds to its final state, counting the completion."""
    return (
        await rowcount(
            conn,
            "UPDATE media_jobs SET state = %(state)s, completions = completions + 1, lease_token = NULL, "
            "lease_expires_at = NULL, last_error = coalesce(%(error)s, last_error), updated_at = now() "
            + _FENCE,
            {"job": job.id, "token": job.lease_token, "state": str(state), "error": error},
        )
        == 1
    )
