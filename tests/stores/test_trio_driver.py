"""psycopg on Trio's loop (``stores.postgres.trio_driver``) and its pool, on real PostgreSQL servers
(the embedded one and the machine's): statements, transactions, pipelines, cancellation, a server
that kills the connection — and no worker thread on the way."""

from __future__ import annotations

import threading

import psycopg
import pytest
import trio

from stores.postgres.trio_driver import TrioConnection
from stores.postgres.trio_pool import PoolTimeout, TrioPool


async def test_statements_transactions_and_pipelines_run_on_the_event_loop(pg_dsn: str) -> None:
    conn = await TrioConnection.open(pg_dsn)
    threads = threading.active_count()
    try:
        assert await (await conn.execute("select %s::int + 1", (41,))).fetchone() == (42,)
        await conn.execute("create temp table t (x int)")
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany("insert into t values (%s)", [(i,) for i in range(100)])
        with pytest.raises(ZeroDivisionError):
            async with conn.transaction():
                await conn.execute("insert into t values (1000)")
                raise ZeroDivisionError  # rolls back
        assert await (await conn.execute("select count(*), max(x) from t")).fetchone() == (100, 99)
        async with conn.pipeline():
            cursors = [await conn.execute("select %s::int", (i,)) for i in range(200)]
        assert [(await c.fetchone() or (None,))[0] for c in cursors] == list(range(200))
        assert threading.active_count() == threads, "no thread was started for any of it"
    finally:
        await conn.close()


async def test_a_cancelled_statement_leaves_a_connection_the_pool_discards(pg_dsn: str) -> None:
    pool = TrioPool(pg_dsn, max_size=1, timeout_s=5.0)
    with trio.move_on_after(0.2):
        async with pool.connection() as conn:
            await conn.execute("select pg_sleep(30)")
    assert pool.connections_discarded == 1 and pool.idle == 0
    async with pool.connection() as conn:  # a fresh one, not the one still inside pg_sleep
        assert await (await conn.execute("select 1")).fetchone() == (1,)
    assert pool.idle == 1 and pool.connections_made == 2
    pool.close()


async def test_a_connection_the_server_killed_fails_typed_and_is_replaced(pg_dsn: str) -> None:
    pool = TrioPool(pg_dsn, max_size=1, timeout_s=5.0)
    await pool.open(1)
    async with pool.connection() as conn:
        pid = conn.pgconn.backend_pid
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (pid,))
    with pytest.raises(psycopg.OperationalError):
        async with pool.connection() as conn:
            await conn.execute("select 1")
    async with pool.connection() as conn:
        assert conn.pgconn.backend_pid != pid
        assert await (await conn.execute("select 1")).fetchone() == (1,)
    pool.close()


async def test_callers_beyond_the_pool_wait_then_time_out(pg_dsn: str) -> None:
    pool = TrioPool(pg_dsn, max_size=2, timeout_s=0.5)
    results: list[int] = []

    async def hold(n: int) -> None:
        async with pool.connection() as conn:
            results.append(
                (await (await conn.execute("select %s::int from pg_sleep(0.2)", (n,))).fetchone() or (0,))[0]
            )

    async with trio.open_nursery() as nursery:
        for n in range(6):  # three rounds of two: each waits its turn, within the timeout
            nursery.start_soon(hold, n)
    assert sorted(results) == list(range(6)) and pool.connections_made == 2
    async with pool.connection(), pool.connection():
        with pytest.raises(PoolTimeout):
            async with pool.connection():
                pass
    pool.close()


async def test_a_wrong_address_fails_within_the_timeout() -> None:
    with trio.fail_after(5):
        with pytest.raises(psycopg.OperationalError):
            await TrioConnection.open("host=127.0.0.1 port=1 user=nobody dbname=none", timeout_s=2.0)
