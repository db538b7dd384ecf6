"""The parts of media collection below the server: the blob store's grace before it deletes a
shared content address, and the cost of the check every served file pays."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pgtools import scratch_database

from stores.blobs import LocalBlobStore
from stores.postgres.database import Database, fetch_one, open_database
from stores.postgres.media import HOLDS_FILE, PostgresMediaStore

ROWS = 20_000


@pytest.fixture
async def db(embedded_pg_admin_dsn: str) -> AsyncIterator[Database]:
    with scratch_database(embedded_pg_admin_dsn) as dsn:
        async with open_database(dsn) as database:
            yield database


async def test_a_blob_written_within_the_grace_is_kept_and_an_older_one_deleted(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, "/files")
    source = tmp_path / "upload"
    source.write_bytes(b"the same picture")
    key = (await store.put_file(source, ".webp")).key
    path = store.path_of(key)

    assert not await store.delete_if_older(key, age_s=3600), "just written: maybe by a new upload"
    assert path.read_bytes() == b"the same picture"
    an_hour_ago = time.time() - 3601
    os.utime(path, (an_hour_ago, an_hour_ago))
    assert await store.delete_if_older(key, age_s=3600)
    assert not path.exists()
    assert await store.delete_if_older(key, age_s=3600), "already gone counts as gone"
    assert list(path.parent.iterdir()) == [], "nothing left aside"


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _plan_nodes(child))]


async def test_the_served_file_check_is_one_indexed_query(db: Database) -> None:
    variants = {"thumbnails": [{"key": "k"}, {"key": "k"}], "video": {"key": "k"}}
    await db.run(
        lambda conn: conn.execute(
            "WITH owner AS (INSERT INTO users (username, display_name, password_hash)"
            "  VALUES ('owner', 'o', 'x') RETURNING id)"
            " INSERT INTO media (owner_id, kind, original_key, original_bytes, state, variants)"
            " SELECT owner.id, 'video', md5(n::text), 1, CASE WHEN n %% 10 = 0 THEN 'removed' ELSE 'ready' END,"
            "  jsonb_set(jsonb_set(jsonb_set(%s::jsonb, '{thumbnails,0,key}', to_jsonb(md5(n || 'a'))),"
            "   '{thumbnails,1,key}', to_jsonb(md5(n || 'b'))), '{video,key}', to_jsonb(md5(n || 'c')))"
            " FROM owner, generate_series(1, %s) n",
            (json.dumps(variants), ROWS),
        )
    )
    await db.run(
        lambda conn: conn.execute(
            "INSERT INTO media_files (key, media_id) SELECT key, id FROM media, unnest(media_file_keys(variants)) key"
        )
    )
    await db.query(lambda conn: conn.execute("ANALYZE media, media_files"))
    live, removed = await db.query(lambda conn: fetch_one(conn, "SELECT md5('7' || 'b'), md5('70' || 'b')"))

    (explained,) = await db.query(
        lambda conn: fetch_one(conn, "EXPLAIN (ANALYZE, FORMAT JSON) " + HOLDS_FILE, (live,))
    )
    nodes = _plan_nodes(explained[0]["Plan"])
    scans = {node["Node Type"] for node in nodes if "Scan" in node["Node Type"]}
    assert "Seq Scan" not in scans, nodes
    assert {node.get("Index Name") for node in nodes} >= {"media_files_pkey", "media_pkey"}

    store = PostgresMediaStore(db)
    assert await store.holds_file(live)
    assert not await store.holds_file(removed), "a removed item's file is not served"
    assert not await store.holds_file("never-stored")
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        await store.holds_file(live)
        timings.append(time.perf_counter() - start)
    median_ms = statistics.median(timings) * 1000
    print(f"holds_file over {ROWS} media ({3 * ROWS} files): median {median_ms:.2f} ms per call")
    assert median_ms < 50, "an index probe, not a scan (generous: the test machine is shared)"
