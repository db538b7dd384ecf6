"""The embedded PostgreSQL as a supervised part: restarted when it dies, stopped on exit even
after an earlier server crashed while holding it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
import trio

from kernel.config import Settings
from kernel.errors import StoreUnavailable
from stores.open import open_stores
from stores.postgres.database import Database
from stores.postgres.embedded import EmbeddedPostgres
from supervisor import ChildSpec, Supervisor


async def poll(condition: Callable[[], Awaitable[bool]], interval_s: float = 0.1) -> None:
    """Wait for another process to change state: polling it is the only signal there is."""
    with trio.fail_after(30):
        while True:
            if await condition():
                return
            await trio.sleep(interval_s)


def postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


async def test_a_killed_embedded_postgres_is_restarted_and_queries_work_again() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="viora-pg-")) / "data"
    try:
        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2, db_pool_timeout_s=2.0)) as stores:
            assert stores.embedded is not None
            tree = Supervisor("t", [ChildSpec("postgres", stores.embedded.watch)])
            async with trio.open_nursery() as nursery:
                await nursery.start(tree.run)
                user = await stores.users.create_user("survivor", "S", "h")
                os.kill(postmaster_pid(stores.embedded.pgdata), signal.SIGKILL)
                embedded = stores.embedded
                await poll(lambda: _restarted_and_answering(embedded, stores.db))
                assert await stores.users.get_user_by_username("survivor") == user
                assert stores.embedded.restarts == 1
                (node,) = tree.inspect()["children"]
                assert node["restarts"] == 0 and node["restarts_of_postgres"] == 1
                await tree.shutdown()
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


async def test_the_embedded_postgres_stops_on_exit_after_a_holder_died(tmp_path: Any) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="viora-pg-")) / "data"
    try:
        dead = await trio.run_process([sys.executable, "-c", "import os; print(os.getpid())"], capture_stdout=True)
        dead_pid = int(dead.stdout)  # a process that has exited: a server killed while holding it
        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2)) as stores:
            assert stores.embedded is not None
            handles = stores.embedded.pgdata / ".handle_pids.json"
            handles.write_text(json.dumps([*json.loads(handles.read_text()), dead_pid]))
            dsn = stores.dsn
        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2)) as stores:
            assert dead_pid not in json.loads(handles.read_text()), "the dead holder is forgotten"
        try:
            psycopg.connect(dsn, connect_timeout=2).close()
        except psycopg.OperationalError:
            pass
        else:
            raise AssertionError("PostgreSQL was left running after the last server exited")
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


async def test_with_the_database_gone_requests_fail_fast_instead_of_queueing() -> None:
    """Ten requests on a pool of two with a 2 s timeout: without the outage rule they would wait
    their turn for a connection, 2 s each round (10 s); with it, one round, then at once."""
    data_dir = Path(tempfile.mkdtemp(prefix="viora-pg-")) / "data"
    try:
        async with open_stores(Settings(data_dir=data_dir, db_pool_size=2, db_pool_timeout_s=2.0)) as stores:
            assert stores.embedded is not None
            os.kill(postmaster_pid(stores.embedded.pgdata), signal.SIGKILL)
            embedded = stores.embedded
            await poll(lambda: trio.to_thread.run_sync(lambda: not embedded.running()))
            outcomes: list[str] = []

            async def request() -> None:
                try:
                    await stores.users.get_user(1)
                    outcomes.append("answered")
                except StoreUnavailable:
                    outcomes.append("unavailable")

            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                for _ in range(10):
                    nursery.start_soon(request)
            assert outcomes == ["unavailable"] * 10
            assert trio.current_time() - started < 5.0
            await trio.to_thread.run_sync(stores.embedded.restart)  # so the block can close cleanly
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


async def _restarted_and_answering(embedded: EmbeddedPostgres, db: Database) -> bool:
    return bool(embedded.restarts) and await db.ping(1.0)
