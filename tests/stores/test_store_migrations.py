"""Schema migrations: applied once, in order, and never twice even by concurrent servers."""

from __future__ import annotations

import psycopg
import pytest
import trio

from stores.postgres.database import fetch_one
from stores.postgres.migrations import Migration, apply_migrations, load_migrations
from stores.postgres.trio_driver import TrioConnection


def _recorded(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert load_migrations()[0].name == "accounts"


async def test_migrations_apply_once_and_rerun_is_a_no_op(fresh_pg_dsn: str) -> None:
    everything = [m.version for m in load_migrations()]
    async with await TrioConnection.open(fresh_pg_dsn) as conn:
        assert await apply_migrations(conn) == everything
        assert await apply_migrations(conn) == []
        assert await fetch_one(conn, "SELECT to_regclass('auth_tokens') IS NOT NULL") == (True,)
    assert _recorded(fresh_pg_dsn) == everything


async def test_concurrent_migrators_apply_each_version_once(fresh_pg_dsn: str) -> None:
    """Two servers starting at once, each on its own connection: the advisory lock serialises them."""
    conns = [await TrioConnection.open(fresh_pg_dsn) for _ in range(2)]
    applied: list[list[int]] = []

    async def migrator(conn: TrioConnection[tuple[object, ...]]) -> None:
        applied.append(await apply_migrations(conn))

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            for conn in conns:
                nursery.start_soon(migrator, conn)
    for conn in conns:
        await conn.close()
    everything = [m.version for m in load_migrations()]
    assert sorted(applied[0] + applied[1]) == everything
    assert _recorded(fresh_pg_dsn) == everything


async def test_a_failing_migration_leaves_no_trace(fresh_pg_dsn: str) -> None:
    good = Migration(1, "good", "CREATE TABLE kept (id int)")
    bad = Migration(2, "bad", "CREATE TABLE lost (id int); SELECT no_such_function()")
    async with await TrioConnection.open(fresh_pg_dsn) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            await apply_migrations(conn, [good, bad])
        assert await fetch_one(conn, "SELECT to_regclass('lost')") == (None,)
    assert _recorded(fresh_pg_dsn) == [1]
