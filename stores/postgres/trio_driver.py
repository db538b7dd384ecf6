"""psycopg on Trio's own event loop: no worker thread per database call.

psycopg 3 is built around a non-blocking core: every operation is a generator that says "wait until
the socket is readable / writable" and goes on when told it is; the blocking and asyncio flavours
differ only in the function that waits (``psycopg/waiting.py``; the maintainers describe Trio
support this way in psycopg issue #29). :func:`trio_wait` is that function for Trio, and
:class:`TrioConnection` is psycopg's async connection with it — and with a Trio lock, the only
other asyncio object the async connection, cursors, transactions and pipelines use.

Why: a call through a worker thread costs two thread hand-offs and a wake-up of the event loop from
outside; measured on this 2-core box (``select 1``, one connection) the thread path cost ~3x the CPU
of the native one per call (see BENCHMARKS.md, "Database calls"), and under load the hand-offs
were a tenth of the server's samples.

Connecting runs libpq's non-blocking connect the same way. Host names are resolved by libpq
itself, blocking, during the connect — the DSNs we use name an address or a Unix socket, where no
lookup happens; a DSN with a host name is connected in a worker thread instead.
"""

from __future__ import annotations

import ipaddress
import select
from typing import Any, Self, TypeVar

import psycopg
import trio
from psycopg import errors
from psycopg.abc import PQGen, PQGenConn
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import Row
from psycopg.waiting import Ready, Wait, wait_conn

WAIT_R, WAIT_W, WAIT_RW = Wait.R, Wait.W, Wait.RW
T = TypeVar("T")


async def trio_wait(gen: PQGen[T], fileno: int) -> T:
    """Drive ``gen`` to completion, waiting on ``fileno`` in Trio whenever it would block.

    A socket asked for writing is nearly always writable: a zero-timeout poll first saves a trip
    through the event loop (pipelines flush at every statement). Waiting for "readable or
    writable" is the rare case of a pipeline whose send buffer filled: both waits race.
    """
    try:
        state = next(gen)
        while True:
            if state == WAIT_R:
                await trio.lowlevel.wait_readable(fileno)
                state = gen.send(Ready.R)
                continue
            readable, writable, _ = select.select([fileno] if state == WAIT_RW else [], [fileno], [], 0)
            if readable or writable:
                state = gen.send(
                    (Ready.R if readable else Ready.NONE) | (Ready.W if writable else Ready.NONE)
                )
            elif state == WAIT_W:
                await trio.lowlevel.wait_writable(fileno)
                state = gen.send(Ready.W)
            else:
                state = gen.send(await _readable_or_writable(fileno))
    except StopIteration as done:
        result: T = done.value
        return result


async def _readable_or_writable(fileno: int) -> Ready:
    ready: list[Ready] = []
    async with trio.open_nursery() as nursery:

        async def wait(waiter: Any, flag: Ready) -> None:
            await waiter(fileno)
            ready.append(flag)
            nursery.cancel_scope.cancel()

        nursery.start_soon(wait, trio.lowlevel.wait_readable, Ready.R)
        nursery.start_soon(wait, trio.lowlevel.wait_writable, Ready.W)
    return Ready.RW if len(ready) > 1 else ready[0]


async def trio_wait_conn(gen: PQGenConn[T]) -> T:
    """:func:`trio_wait` for libpq's connect, whose socket may change between attempts."""
    try:
        fileno, state = next(gen)
        while True:
            if state == WAIT_R:
                await trio.lowlevel.wait_readable(fileno)
                fileno, state = gen.send(Ready.R)
            elif state == WAIT_W:
                await trio.lowlevel.wait_writable(fileno)
                fileno, state = gen.send(Ready.W)
            else:
                fileno, state = gen.send(await _readable_or_writable(fileno))
    except StopIteration as done:
        result: T = done.value
        return result


class UncontendedLock:
    """The connection's lock, which psycopg takes around every statement and fetch: free of
    charge when nobody holds it. ``trio.Lock`` passes through the scheduler even then (a
    checkpoint), and a pooled connection belongs to one task at a time, so it is nearly always
    free: the checkpoint would cost a task switch per call for nothing."""

    def __init__(self) -> None:
        self._lock = trio.Lock()

    async def __aenter__(self) -> None:
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()


class TrioConnection(psycopg.AsyncConnection[Row]):
    """psycopg's :class:`~psycopg.AsyncConnection`, waiting in Trio. Open with :meth:`open`."""

    @classmethod
    async def open(cls, conninfo: str, *, autocommit: bool = True, timeout_s: float = 10.0) -> Self:
        """Connect (within ``timeout_s``; :class:`psycopg.OperationalError` otherwise)."""
        gen = cls._connect_gen(conninfo)
        with trio.move_on_after(timeout_s) as deadline:
            if _resolves_names(conninfo):
                conn = await trio.to_thread.run_sync(wait_conn, gen, 0.1, timeout_s)
            else:
                conn = await trio_wait_conn(gen)
        if deadline.cancelled_caught:
            raise psycopg.OperationalError(f"connection timeout expired ({timeout_s:g} s)")
        conn.lock = UncontendedLock()  # type: ignore[assignment]  # the interface of asyncio's
        if autocommit:
            await conn.set_autocommit(True)
        return conn

    async def wait(self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None) -> Any:
        """psycopg's hook: every operation of the connection waits here."""
        if self.pgconn.socket < 0:
            raise errors.OperationalError("the connection is closed")
        return await trio_wait(gen, self.pgconn.socket)

    async def cancel_safe(self, *, timeout: float = 30.0) -> None:
        """Cancel the running statement (psycopg's own would call asyncio): libpq's blocking cancel
        in a worker thread, the one call that needs one."""
        if self._should_cancel():
            await trio.to_thread.run_sync(self.cancel)


def _resolves_names(conninfo: str) -> bool:
    """Whether libpq would look a host name up (blocking) while connecting to ``conninfo``."""
    params = conninfo_to_dict(make_conninfo(conninfo))
    if params.get("hostaddr"):
        return False
    for host in str(params.get("host") or "").split(","):
        if not host or host.startswith("/"):
            continue
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return True
    return False
