"""Database calls: psycopg on Trio's loop (ours) against psycopg in worker threads (what it replaced).

    python -m bench.db_calls                                  # the machine's PostgreSQL, 8,000 calls
    python -m bench.db_calls --dsn postgresql://... --calls 20000 --concurrency 1 8 32

Both sides run the same statement (``select $1::int``, prepared after five runs as psycopg does)
from the same number of Trio tasks, each side with its own connections, one side after the other:

* **native**: :class:`stores.postgres.trio_pool.TrioPool` of
  :class:`~stores.postgres.trio_driver.TrioConnection` — the store layer's path;
* **threads**: one sync psycopg connection per task, each call through ``trio.to_thread.run_sync``
  behind a limiter the size of the pool — the path the store layer had before.

Printed per concurrency: calls/s and the client process's CPU per call (user + system, all its
threads: ``time.process_time``), and the ratio. PostgreSQL's own CPU is the same for both and not
counted. A third line runs the calls of one task through a pipeline (``conn.pipeline()``): what
batching round trips adds on top.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import psycopg
import trio

from stores.postgres.trio_pool import TrioPool

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
STATEMENT = "select %s::int"


async def native(dsn: str, calls: int, concurrency: int) -> tuple[float, float]:
    pool = TrioPool(dsn, max_size=concurrency, timeout_s=10.0)
    await pool.open(concurrency)

    async def worker(n: int) -> None:
        for _ in range(n):
            async with pool.connection() as conn:
                await (await conn.execute(STATEMENT, (1,))).fetchone()

    try:
        return await _timed(worker, calls, concurrency)
    finally:
        pool.close()


async def threads(dsn: str, calls: int, concurrency: int) -> tuple[float, float]:
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(concurrency)]
    free = list(conns)
    limiter = trio.CapacityLimiter(concurrency)

    def call(conn: psycopg.Connection) -> None:
        conn.execute(STATEMENT, (1,)).fetchone()

    async def worker(n: int) -> None:
        for _ in range(n):
            conn = free.pop()
            try:
                await trio.to_thread.run_sync(call, conn, limiter=limiter)
            finally:
                free.append(conn)

    try:
        return await _timed(worker, calls, concurrency)
    finally:
        for conn in conns:
            conn.close()


async def pipelined(dsn: str, calls: int, concurrency: int) -> tuple[float, float]:
    pool = TrioPool(dsn, max_size=concurrency, timeout_s=10.0)
    await pool.open(concurrency)

    async def worker(n: int) -> None:
        async with pool.connection() as conn, conn.pipeline():
            cursors = [await conn.execute(STATEMENT, (1,)) for _ in range(n)]
        for cursor in cursors:
            await cursor.fetchone()

    try:
        return await _timed(worker, calls, concurrency)
    finally:
        pool.close()


async def _timed(
    worker: Callable[[int], Awaitable[None]], calls: int, concurrency: int
) -> tuple[float, float]:
    await worker(min(10, calls))  # warm: connections made, the statement prepared
    started, cpu = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for _ in range(concurrency):
            nursery.start_soon(worker, calls // concurrency)
    return calls / (time.perf_counter() - started), (time.process_time() - cpu) / calls * 1e6


async def main(args: argparse.Namespace) -> None:
    print(f"{args.calls} calls of {STATEMENT!r} per line; CPU = this process, all threads")
    print(f"{'path':10} {'tasks':>5} {'calls/s':>9} {'CPU µs/call':>12}")
    for concurrency in args.concurrency:
        figures = {}
        for name, run in (("threads", threads), ("native", native), ("pipelined", pipelined)):
            rate, cpu_us = await run(args.dsn, args.calls, concurrency)
            figures[name] = (rate, cpu_us)
            print(f"{name:10} {concurrency:5} {rate:9.0f} {cpu_us:12.1f}")
        ratio = figures["threads"][1] / figures["native"][1]
        print(f"{'':10} {'':5} native costs 1/{ratio:.1f} of the threads' CPU per call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dsn", default=DEFAULT_DSN)
    parser.add_argument("--calls", type=int, default=8000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    trio.run(main, parser.parse_args())
