"""Database: transactions, pool self-healing, retries, and typed unavailability."""

from __future__ import annotations

import socket

import psycopg
import pytest

from stores.errors import StoreUnavailable
from stores.postgres.database import Database, open_database


def _backend_pid(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return row[0]


async def test_run_rolls_back_when_the_function_raises(db: Database) -> None:
    def insert_then_fail(conn: psycopg.Connection) -> None:
        conn.execute(
            "INSERT INTO users (username, display_name, password_hash) VALUES ('rolled_back', 'x', 'x')"
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.run(insert_then_fail)
    count = await db.run(
        lambda conn: conn.execute("SELECT count(*) FROM users WHERE username = 'rolled_back'").fetchone()
    )
    assert count == (0,)


async def test_a_connection_dropped_by_the_server_is_replaced(db: Database, pg_admin_dsn: str) -> None:
    old_pid = await db.run(_backend_pid)
    dbname = await db.run(lambda conn: conn.info.dbname)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        # The timeout argument makes the call wait until the backends are really gone.
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
    new_pid = await db.run(_backend_pid)  # not idempotent: the pool's check alone must heal it
    assert new_pid != old_pid


async def test_idempotent_work_is_retried_once_after_a_connection_failure(db: Database) -> None:
    calls = 0

    def dies_first_time(conn: psycopg.Connection) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return calls

    assert await db.run(dies_first_time, idempotent=True) == 2


async def test_other_work_is_not_retried(db: Database) -> None:
    calls = 0

    def dies(conn: psycopg.Connection) -> None:
        nonlocal calls
        calls += 1
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(StoreUnavailable):
        await db.run(dies)
    assert calls == 1


def _closed_port_dsn() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


async def test_opening_an_unreachable_database_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable):
        async with open_database(_closed_port_dsn(), pool_timeout=0.5):
            pytest.fail("opened a database on a closed port")


async def test_calls_to_an_unreachable_database_are_unavailable() -> None:
    db = Database(_closed_port_dsn(), pool_timeout=0.5)
    await db.open(wait=False)
    try:
        with pytest.raises(StoreUnavailable):
            await db.run(_backend_pid, idempotent=True)
    finally:
        await db.close()
