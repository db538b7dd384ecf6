"""A pool of :class:`~stores.postgres.trio_driver.TrioConnection`, in Trio.

psycopg_pool's pools are threads (sync) or asyncio (async); this one is what Viora needs and no
more: at most ``max_size`` connections, made when first needed and kept while they are healthy;
a caller waits for a free one at most ``timeout_s`` (then :class:`PoolTimeout`, an outage); and a
connection that comes back in any state but idle — broken, closed, or left inside a statement or a
transaction because its caller was cancelled or failed half-way — is closed, never handed out
again, so no caller ever inherits another's half-done work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import trio
from psycopg import pq

from stores.postgres.trio_driver import TrioConnection

IDLE = pq.TransactionStatus.IDLE


class PoolTimeout(psycopg.OperationalError):
    """No connection could be had within the pool's timeout."""


class PoolClosed(psycopg.OperationalError):
    """The pool was closed."""


class TrioPool:
    def __init__(self, conninfo: str, *, max_size: int, timeout_s: float) -> None:
        self._conninfo = conninfo
        self._timeout_s = timeout_s
        self._slots = trio.Semaphore(max_size)
        self._idle: list[TrioConnection[Any]] = []
        self._closed = False
        self.connections_made = 0
        self.connections_discarded = 0

    async def open(self, min_size: int) -> None:
        """Make ``min_size`` connections now (so a wrong DSN fails at start-up)."""
        made = [await self._connect() for _ in range(min_size)]
        self._idle.extend(made)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[TrioConnection[Any]]:
        """A connection for the block; back to the pool after it if it is still idle and sound."""
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        try:
            self._slots.acquire_nowait()  # the usual case, without a trip through the scheduler
        except trio.WouldBlock:
            with trio.move_on_after(self._timeout_s) as waited:
                await self._slots.acquire()
            if waited.cancelled_caught:
                raise PoolTimeout(f"no free database connection within {self._timeout_s:g} s") from None
        try:
            conn = self._idle.pop() if self._idle else await self._connect()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _give_back(self, conn: TrioConnection[Any]) -> None:
        if self._closed or conn.closed or conn.broken or conn.pgconn.transaction_status != IDLE:
            self.connections_discarded += 1
            conn.pgconn.finish()  # never awaits: safe in a finally, cancelled or not
        else:
            self._idle.append(conn)

    async def _connect(self) -> TrioConnection[Any]:
        conn: TrioConnection[Any] = await TrioConnection.open(self._conninfo, timeout_s=self._timeout_s)
        self.connections_made += 1
        return conn

    def close(self) -> None:
        """Close the idle connections now and the others as they come back."""
        self._closed = True
        while self._idle:
            self._idle.pop().pgconn.finish()

    @property
    def idle(self) -> int:
        return len(self._idle)
