"""The PostgreSQL database as Trio code uses it: a pool of connections on the event loop itself.

Every call runs on :class:`~stores.postgres.trio_driver.TrioConnection` — psycopg's own async
connection, waiting in Trio — so a database call costs no worker thread and no hand-off (a third of
the CPU of the thread path it replaced, see BENCHMARKS.md "Database calls"). Store functions are
``async def f(conn)``; :meth:`Database.run` gives them one transaction, :meth:`Database.query`
autocommit statements.

A call is not abandoned half-way when its caller is cancelled: it runs shielded to its end (a
statement timeout on the server bounds it), as a call in a thread did, because a caller must not
move on while its transaction could still commit. The pool closes any connection that comes back
in another state than idle, so nothing half-done is ever handed to the next caller.

A connection the server dropped while it sat in the pool (restart, ``pg_terminate_backend``, a NAT
timeout) fails on the first command sent on it. Calls are retried on a fresh connection when that
first command failed, since nothing can have run yet (``run``), or at any point for work that is
safe to repeat (``query``). The pool does not check connections when it hands them out: that was
one extra round trip per call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
import trio
from psycopg import errors
from psycopg.abc import Params, QueryNoTemplate

from kernel.errors import Conflict, Invalid, NotFound, StoreUnavailable
from stores.postgres.migrations import apply_migrations
from stores.postgres.trio_driver import TrioConnection
from stores.postgres.trio_pool import PoolTimeout, TrioPool

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = TrioConnection[Any]
"""What store functions are given: psycopg's async connection (``await conn.execute(...)``)."""


class Database:
    """A pool of connections to one database (see the module docstring)."""

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 8, pool_timeout: float = 10.0) -> None:
        """``pool_timeout`` bounds how long a call waits for a connection before it is unavailable."""
        self._min_size = min_size
        self._timeout = pool_timeout
        self._pool = TrioPool(dsn, max_size=max_size, timeout_s=pool_timeout)
        self._attempts = max_size + 1
        """Every pooled connection may be dead at once (a server restart): try past all of them."""
        self._down = False
        """The last call found no database. Until one succeeds again, one call at a time goes
        through as a probe and the others fail at once: with the database gone, requests must
        answer ``unavailable`` now, not one after another, each after its own pool timeout."""
        self._probing = False

    async def open(self, *, wait: bool = True) -> None:
        """Open the pool; with ``wait``, fail with StoreUnavailable unless ``min_size`` connect."""
        if not wait:
            return
        try:
            await self._pool.open(self._min_size)
        except psycopg.OperationalError as exc:
            await self.close()
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc

    async def close(self) -> None:
        self._pool.close()

    async def run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``await fn(conn)`` inside one transaction on a pooled connection.

        A connection-level failure raises :class:`StoreUnavailable`; a unique violation raises
        :class:`Conflict`, a foreign key naming no row :class:`NotFound`, a check constraint
        :class:`Invalid`. A connection that fails at BEGIN is replaced and the call retried; once
        BEGIN has gone through, a failure is never retried, since a failed COMMIT may still have
        committed.
        """
        begun = False

        async def attempt(conn: Conn) -> T:
            nonlocal begun
            async with conn.transaction():  # sends BEGIN now
                begun = True
                return await fn(conn)

        return await self._guarded(lambda: self._retried(attempt, retry_if=lambda: not begun))

    async def query(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``await fn(conn)`` without an explicit transaction (autocommit: each statement is
        atomic and sees its own snapshot): for reads, and for single statements that are safe to
        repeat. A connection failure is retried on a fresh connection. Saves the BEGIN and COMMIT
        round trips of :meth:`run`; errors map as for :meth:`run`."""
        return await self._guarded(lambda: self._retried(fn))

    async def migrate(self) -> list[int]:
        """Bring the schema up to date; returns the versions applied by this call."""
        return await self._guarded(lambda: self._retried(apply_migrations))

    async def ping(self, timeout_s: float) -> bool:
        """Whether the database answers ``select 1`` within ``timeout_s``; never waits longer.

        The one call abandoned on timeout: it holds no transaction, and the pool closes a
        connection left inside a statement.
        """
        with trio.move_on_after(timeout_s):
            try:
                await self._guarded(lambda: self._on_connection(_select_one), shielded=False)
                return True
            except StoreUnavailable:
                return False
        return False

    async def _retried(self, fn: Callable[[Conn], Awaitable[T]], *, retry_if: Callable[[], bool] = lambda: True) -> T:
        """``fn`` on a pooled connection; on a connection failure, again on another while
        ``retry_if()`` allows (the pool discards the broken connection when it comes back)."""
        for remaining in range(self._attempts - 1, -1, -1):
            try:
                return await self._on_connection(fn)
            except PoolTimeout:
                raise  # no connection to be had: waiting a second full timeout would not help
            except psycopg.OperationalError as exc:
                if not remaining or not retry_if():
                    raise
                log.warning("retrying on a fresh connection after a connection failure: %s", exc)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _on_connection(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        async with self._pool.connection() as conn:
            return await fn(conn)

    async def _guarded(self, work: Callable[[], Awaitable[T]], *, shielded: bool = True) -> T:
        """Run ``work`` under the outage rule (see ``_down``), psycopg's errors mapped to ours,
        shielded from the caller's cancellation unless told otherwise (see the module docstring)."""
        probe = False
        if self._down:
            if self._probing:
                raise StoreUnavailable("the database is unreachable; retry shortly")
            self._probing = probe = True
        try:
            with trio.CancelScope(shield=shielded):
                result = await work()
        except psycopg.Error as exc:
            # No connection (PoolTimeout, a refused or broken socket: no SQLSTATE) is an outage;
            # any other error is the database answering, so it is up.
            self._down = isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None
            raise _ours(exc) from exc
        finally:
            if probe:
                self._probing = False
        self._down = False
        return result

    @property
    def pool(self) -> TrioPool:
        """For the tree and for tests that take the database away (``pool.close()``)."""
        return self._pool


async def fetch_one(conn: Conn, sql: QueryNoTemplate, params: Params | None = None) -> Any:
    """The first row of one statement (None without one): ``lambda conn: fetch_one(conn, ...)``
    is what a one-statement store call passes to :meth:`Database.run` or :meth:`Database.query`."""
    return await (await conn.execute(sql, params)).fetchone()


async def fetch_all(conn: Conn, sql: QueryNoTemplate, params: Params | None = None) -> list[Any]:
    """All rows of one statement, as :func:`fetch_one`."""
    return await (await conn.execute(sql, params)).fetchall()


async def rowcount(conn: Conn, sql: QueryNoTemplate, params: Params | None = None) -> int:
    """The rows one statement changed, as :func:`fetch_one`."""
    return (await conn.execute(sql, params)).rowcount


async def _select_one(conn: Conn) -> None:
    await conn.execute("select 1")


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
