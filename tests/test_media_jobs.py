"""The durable job queue against a real PostgreSQL: claiming, leases, fencing, retries; and the
pool's resilience when a worker crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
from pgtools import scratch_database

from stores.blobs import Blob
from stores.media import MediaKind, MediaState
from stores.postgres.database import Database, fetch_one, open_database
from stores.postgres.media import PostgresMediaStore


@pytest.fixture
async def db(embedded_pg_admin_dsn: str) -> AsyncIterator[Database]:
    with scratch_database(embedded_pg_admin_dsn) as dsn:
        async with open_database(dsn) as database:
            yield database


async def new_media(db: Database, store: PostgresMediaStore, owner_name: str = "owner") -> int:
    (owner,) = await db.run(
        lambda conn: fetch_one(
            conn,
            "INSERT INTO users (username, display_name, password_hash) VALUES (%s, 'o', 'x') "
            "ON CONFLICT (username) DO UPDATE SET display_name = 'o' RETURNING id",
            (owner_name,),
        )
    )
    return (await store.create_media(owner, MediaKind.IMAGE, Blob("a" * 64, 10))).id


async def test_claims_are_fair_between_users(db: Database) -> None:
    """A user with a burst of uploads does not keep another user's one upload waiting behind it."""
    store = PostgresMediaStore(db)
    burst = [await new_media(db, store, "bursty") for _ in range(3)]
    single = await new_media(db, store, "patient")  # the newest job of all
    first = await store.claim_job(lease_s=60)
    second = await store.claim_job(lease_s=60)
    assert first is not None and second is not None
    assert (first.media_id, second.media_id) == (burst[0], single)
    assert await store.pending_count(first.owner_id) == 3


async def test_concurrent_claims_never_take_the_same_job(db: Database) -> None:
    store = PostgresMediaStore(db)
    created = {await new_media(db, store) for _ in range(6)}
    claimed: list[int] = []

    async def claimer() -> None:
        while (job := await store.claim_job(lease_s=60)) is not None:
            claimed.append(job.media_id)

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(claimer)
    assert sorted(claimed) == sorted(created)


async def test_an_expired_lease_is_claimed_again_and_the_old_claim_is_fenced_off(db: Database) -> None:
    store = PostgresMediaStore(db)
    media_id = await new_media(db, store)
    first = await store.claim_job(lease_s=60)
    assert first is not None and first.attempts == 1
    assert await store.claim_job(lease_s=60) is None  # leased: nobody else may take it
    await db.run(lambda conn: conn.execute("UPDATE media_jobs SET lease_expires_at = now() - interval '1 s'"))
    second = await store.claim_job(lease_s=60)
    assert second is not None and second.attempts == 2 and second.media_id == media_id
    # The first worker wakes up late: it can neither renew nor finish any more.
    assert not await store.renew_lease(first, 60)
    assert not await store.finish_ready(first, {"stale": True}, [])
    assert await store.finish_ready(second, {"fresh": True}, [])
    status = await store.job_status(media_id)
    assert status is not None and (status.state, status.attempts, status.completions) == (
        MediaState.READY,
        2,
        1,
    )
    record = await store.get_media(media_id)
    assert record is not None and record.variants == {"fresh": True}


async def test_retry_later_requeues_after_the_backoff(db: Database) -> None:
    store = PostgresMediaStore(db)
    media_id = await new_media(db, store)
    job = await store.claim_job(lease_s=60)
    assert job is not None
    assert await store.retry_later(job, "disk full", delay_s=3600)
    assert await store.claim_job(lease_s=60) is None  # not due for an hour
    await db.run(lambda conn: conn.execute("UPDATE media_jobs SET run_after = now()"))
    again = await store.claim_job(lease_s=60)
    assert again is not None and again.attempts == 2 and again.last_error == "disk full"
    assert await store.finish_failed(again, "corrupt: no")
    record = await store.get_media(media_id)
    assert record is not None and (record.state, record.reason) == (MediaState.FAILED, "corrupt: no")


def test_local_blob_store_refuses_keys_that_are_not_content_addresses(tmp_path: Path) -> None:
    from kernel.errors import BlobMissing
    from stores.blobs import LocalBlobStore

    store = LocalBlobStore(tmp_path, "/files")
    for key in ("../../etc/passwd", "a" * 63, "A" * 64, "a" * 64 + "/x"):
        with pytest.raises(BlobMissing):
            store.path_of(key)
