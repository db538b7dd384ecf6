"""Database: transactions, pool self-healing, retries, and typed unavailability."""

from __future__ import annotations

import socket

import psycopg
import pytest
import trio

from kernel.errors import StoreUnavailable
from stores.postgres.database import Conn, Database, fetch_one, open_database


async def _backend_pid(conn: Conn) -> int:
    row = await fetch_one(conn, "SELECT pg_backend_pid()")
    assert row is not None
    return row[0]


async def test_run_rolls_back_when_the_function_raises(db: Database) -> None:
    async def insert_then_fail(conn: Conn) -> None:
        await conn.execute(
            "INSERT INTO users (username, display_name, password_hash) VALUES ('rolled_back', 'x', 'x')"
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.run(insert_then_fail)
    count = await db.run(
        lambda conn: fetch_one(conn, "SELECT count(*) FROM users WHERE username = 'rolled_back'")
    )
    assert count == (0,)


async def test_connections_dropped_by_the_server_are_replaced(db: Database, pg_admin_dsn: str) -> None:
    old_pids: set[int] = set()

    async def busy_backend_pid(conn: Conn) -> None:
        await conn.execute("SELECT pg_sleep(0.05)")  # hold the connection so the others open more
        old_pids.add(await _backend_pid(conn))

    async def dbname_of(conn: Conn) -> str:
        return conn.info.dbname

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(db.run, busy_backend_pid)
    assert len(old_pids) == 4, "the pool holds four connections, all about to be dropped"
    dbname = await db.run(dbname_of)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        # The timeout argument makes the call wait until the backends are really gone.
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        )
    # Each dead connection fails at BEGIN, before any work: safe to retry, even for a transaction.
    assert await db.run(_backend_pid) not in old_pids
    assert await db.query(_backend_pid) not in old_pids


async def test_a_query_is_retried_after_a_connection_failure(db: Database) -> None:
    calls = 0

    async def dies_first_time(conn: Conn) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return calls

    assert await db.query(dies_first_time) == 2


async def test_a_transaction_that_failed_after_begin_is_not_retried(db: Database) -> None:
    calls = 0

    async def dies(conn: Conn) -> None:
        nonlocal calls
        calls += 1
        await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

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
            await db.query(_backend_pid)
    finally:
        await db.close()
