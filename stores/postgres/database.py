"""A PostgreSQL connection pool that Trio code can use.

psycopg's async API only runs on asyncio, so we use the sync pool and run every database call
in a Trio worker thread. A :class:`trio.CapacityLimiter` sized like the pool bounds those
threads: more threads than connections would only queue inside the pool, where a long queue
turns into spurious pool timeouts instead of plain Trio back-pressure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TypeVar

import psycopg
import trio
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from kernel.errors import Conflict, Invalid, NotFound, StoreUnavailable
from stores.postgres.migrations import apply_migrations

log = logging.getLogger(__name__)

T = TypeVar("T")


class Database:
    """A pool of connections to one database; every call runs in a worker thread.

    A connection the server dropped while it sat in the pool (restart, ``pg_terminate_backend``,
    a NAT timeout) fails on the first command sent on it. Calls are retried on a fresh connection
    when that first command failed, since nothing can have run yet (``run``), or at any point for
    work that is safe to repeat (``query``). The pool does not check connections when it hands them
    out: that was one extra round trip per call, and ``viora load`` showed it, with BEGIN and
    COMMIT around single reads, as most of the time our worker threads spent on the database.
    """

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8, pool_timeout: float = 10.0) -> None:
        """``pool_timeout`` bounds how long a call waits for a connection before it is unavailable."""
        self._timeout = pool_timeout
        self._pool: ConnectionPool = ConnectionPool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=pool_timeout,
            open=False,
            # Autocommit, so the only transactions are the explicit ones in ``run``.
            kwargs={"autocommit": True},
            name="viora",
        )
        self._attempts = max_size + 1
        """Every pooled connection may be dead at once (a server restart): try past all of them."""
        self._limiter = trio.CapacityLimiter(max_size)

    async def open(self, *, wait: bool = True) -> None:
        """Open the pool; with ``wait``, fail with StoreUnavailable unless ``min_size`` connect."""
        try:
            await trio.to_thread.run_sync(partial(self._pool.open, wait=wait, timeout=self._timeout))
        except PoolTimeout as exc:
            await self.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._pool.close)

    async def run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one transaction on a pooled connection, in a worker thread.

        A connection-level failure raises :class:`StoreUnavailable`; a unique violation raises
        :class:`Conflict`, a foreign key naming no row :class:`NotFound`, a check constraint
        :class:`Invalid`. A connection that fails at BEGIN is replaced and the call retried; once
        BEGIN has gone through, a failure is never retried, since a failed COMMIT may still have
        committed.
        """
        return await self._in_thread(partial(_transaction, fn, attempts=self._attempts))

    async def query(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run ``fn(conn)`` without an explicit transaction (autocommit: each statement is atomic
        and sees its own snapshot): for reads, and for single statements that are safe to repeat.
        A connection failure is retried on a fresh connection. Saves the BEGIN and COMMIT round
        trips of :meth:`run`; errors map as for :meth:`run`."""
        return await self._in_thread(partial(_retried, fn, attempts=self._attempts))

    async def migrate(self) -> list[int]:
        """Bring the schema up to date; returns the versions applied by this call."""
        return await self._in_thread(partial(_with_connection, apply_migrations))

    async def _in_thread(self, call: Callable[[ConnectionPool], T]) -> T:
        # Not abandoned on cancel: the thread holds a pooled connection mid-transaction, and
        # the caller must not move on while it could still commit.
        try:
            return await trio.to_thread.run_sync(call, self._pool, limiter=self._limiter)
        except errors.UniqueViolation as exc:
            raise Conflict(exc.diag.constraint_name) from exc
        except errors.ForeignKeyViolation as exc:
            raise NotFound("something this refers to does not exist") from exc  # a missing row was named
        except errors.CheckViolation as exc:
            raise Invalid(f"violates {exc.diag.constraint_name}") from exc
        except psycopg.OperationalError as exc:  # includes PoolTimeout
            raise StoreUnavailable(str(exc)) from exc


def _transaction(fn: Callable[[psycopg.Connection], T], pool: ConnectionPool, *, attempts: int) -> T:
    begun = False

    def attempt(conn: psycopg.Connection) -> T:
        nonlocal begun
        with conn.transaction():  # sends BEGIN now
            begun = True
            return fn(conn)

    return _retried(attempt, pool, attempts=attempts, retry_if=lambda: not begun)


def _retried(
    fn: Callable[[psycopg.Connection], T],
    pool: ConnectionPool,
    *,
    attempts: int,
    retry_if: Callable[[], bool] = lambda: True,
) -> T:
    """``fn`` on a pooled connection; on a connection failure, again on another while
    ``retry_if()`` allows (the pool discards the broken connection when it comes back)."""
    for remaining in range(attempts - 1, -1, -1):
        try:
            return _with_connection(fn, pool)
        except PoolTimeout:
            raise  # no connection to be had: waiting a second full timeout would not help
        except psycopg.OperationalError as exc:
            if not remaining or not retry_if():
                raise
            log.warning("retrying on a fresh connection after a connection failure: %s", exc)
    raise AssertionError("unreachable: the last attempt returns or raises")


def _with_connection(fn: Callable[[psycopg.Connection], T], pool: ConnectionPool) -> T:
    with pool.connection() as conn:
        return fn(conn)


@asynccontextmanager
async def open_database(
    dsn: str, *, min_size: int = 1, max_size: int = 8, pool_timeout: float = 10.0
) -> AsyncIterator[Database]:
    """Open a pool, migrate the schema, and close the pool when the block ends."""
    db = Database(dsn, min_size=min_size, max_size=max_size, pool_timeout=pool_timeout)
    await db.open()
    try:
        await db.migrate()
        yield db
    finally:
        with trio.CancelScope(shield=True):
            await db.close()
