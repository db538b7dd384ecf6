"""Schema migrations: applied once, in order, and never twice even by concurrent servers."""

from __future__ import annotations

import threading

import psycopg
import pytest

from stores.postgres.migrations import Migration, apply_migrations, load_migrations


def _recorded(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_shipped_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert load_migrations()[0].name == "accounts"


def test_migrations_apply_once_and_rerun_is_a_no_op(fresh_pg_dsn: str) -> None:
    everything = [m.version for m in load_migrations()]
    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
        assert apply_migrations(conn) == everything
        assert apply_migrations(conn) == []
        assert conn.execute("SELECT to_regclass('auth_tokens') IS NOT NULL").fetchone() == (True,)
    assert _recorded(fresh_pg_dsn) == everything


def test_concurrent_migrators_apply_each_version_once(fresh_pg_dsn: str) -> None:
    start = threading.Barrier(2)
    applied: list[list[int]] = []
    failures: list[BaseException] = []

    def migrator() -> None:
        try:
            with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
                start.wait(timeout=10)
                applied.append(apply_migrations(conn))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=migrator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    everything = [m.version for m in load_migrations()]
    assert sorted(applied[0] + applied[1]) == everything
    assert _recorded(fresh_pg_dsn) == everything


def test_a_failing_migration_leaves_no_trace(fresh_pg_dsn: str) -> None:
    good = Migration(1, "good", "CREATE TABLE kept (id int)")
    bad = Migration(2, "bad", "CREATE TABLE lost (id int); SELECT no_such_function()")
    with psycopg.connect(fresh_pg_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.UndefinedFunction):
            apply_migrations(conn, [good, bad])
        assert conn.execute("SELECT to_regclass('lost')").fetchone() == (None,)
    assert _recorded(fresh_pg_dsn) == [1]
