"""A PostgreSQL connection pool that Trio code can use.

psycopg's async API only runs on asyncio, so we use the sync pool and run every database call
in a Trio worker thread. A :class:`trio.CapacityLimiter` sized like the pool bounds those
threads: more threads than connections would only queue inside the pool, where a long queue
turns into spurious pool timeouts instead of plain Trio back-pressure.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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
        self._down = False
        """The last call found no database. Until one succeeds again, one call at a time goes
        through as a probe and the others fail at once: with the database gone, requests must
        answer ``unavailable`` now, not one after another, each after its own pool timeout."""
        self._probing = False

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

    async def ping(self, timeout_s: float) -> bool:
        """Whether the database answers ``select 1`` within ``timeout_s``; never waits longer.

        The only call that abandons its thread on timeout: it holds no transaction, and the
        thread hands its connection back to the pool whenever the database answers.
        """

        def select_one(pool: ConnectionPool) -> None:
            with pool.connection(timeout=timeout_s) as conn:
                conn.execute("select 1")

        with trio.move_on_after(timeout_s):
            try:
                await self._guarded(
                    partial(trio.to_thread.run_sync, select_one, self._pool, abandon_on_cancel=True)
                )
                return True
            except StoreUnavailable:
                return False
        return False

    async def _in_thread(self, call: Callable[[ConnectionPool], T]) -> T:
        # Not abandoned on cancel: the thread holds a pooled connection mid-transaction, and
        # the caller must not move on while it could still commit. The outage rule is applied
        # once the call has its turn: calls queued behind a failing one fail at once too.
        async with self._limiter:
            return await self._guarded(partial(trio.to_thread.run_sync, call, self._pool))

    async def _guarded(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` under the outage rule (see ``_down``), psycopg's errors mapped to ours."""
        probe = False
        if self._down:
            if self._probing:
                raise StoreUnavailable("the database is unreachable; retry shortly")
            self._probing = probe = True
        try:
            result = await work()
        except psycopg.Error as exc:
            # No connection (PoolTimeout, a refused or broken socket: no SQLSTATE) is an outage;
            # any other error is the database answering, so it is up.
            self._down = isinstance(exc, PoolTimeout) or (
                isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None
            )
            raise _ours(exc) from exc
        finally:
            if probe:
                self._probing = False
        self._down = False
        return result


def _ours(exc: psycopg.Error) -> Exception:
    """A psycopg error in the kernel's vocabulary (unknown ones pass through as they are)."""
    if isinstance(exc, errors.UniqueViolation):
        return Conflict(exc.diag.constraint_name)
    if isinstance(exc, errors.ForeignKeyViolation):
        return NotFound("something this refers to does not exist")  # a missing row was named
    if isinstance(exc, errors.CheckViolation):
        return Invalid(f"violates {exc.diag.constraint_name}")
    if isinstance(exc, psycopg.OperationalError):  # includes PoolTimeout
        return StoreUnavailable(str(exc))
    return exc


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
