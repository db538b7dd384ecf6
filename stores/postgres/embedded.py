"""A private PostgreSQL server for installs that do not configure one.

Why pgserver: it bundles real PostgreSQL 16 binaries in a wheel, so a developer laptop or a
single-box install runs exactly the SQL production runs (identity columns, ``bytea``, advisory
locks, ``RETURNING``). The alternative, SQLite for small installs, would have meant a second SQL
dialect, a second set of migrations and bugs that only show up in one of them.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import trio

from supervisor import ChildContext

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import; in containers without
    # XDG_RUNTIME_DIR that warns and falls back to /tmp, which is fine for its lock file.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
    import pgserver


log = logging.getLogger("viora.postgres")

WATCH_INTERVAL_S = 1.0
"""How often the watchdog looks at the postmaster: a dead one is restarted within about this."""


class EmbeddedPostgres:
    """One pgserver cluster under ``<data_dir>/postgres``.

    The methods block (initdb, pg_ctl): call them from a worker thread, or use
    :func:`embedded_postgres`, which does. :meth:`watch` is a supervised child that restarts the
    postmaster when it dies: the pool's connections then fail once and are replaced, so the
    server is ready again within seconds instead of answering ``unavailable`` until restarted.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.pgdata = self.data_dir / "postgres"
        self._server: pgserver.PostgresServer | None = None
        self.dsn = ""
        self.restarts = 0

    def start(self) -> str:
        """Start (or attach to) the cluster and return a DSN for its ``postgres`` database."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_traversable(self.data_dir)
        _forget_dead_handles(self.pgdata)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        self.dsn = self._server.get_uri()
        return self.dsn

    def running(self) -> bool:
        """Whether the postmaster this process started (or attached to) is alive."""
        if self._server is None:
            return False
        try:
            info = pgserver.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
            return info is not None and info.is_running()
        except (psutil.Error, OSError, ValueError):  # a stale or half-written postmaster.pid
            return False

    def restart(self) -> None:
        """Start the postmaster again after it died (same data, same socket: the DSN holds)."""
        assert self._server is not None
        with pgserver.PostgresServer._lock:
            self._server.ensure_postgres_running()
        self.restarts += 1

    async def watch(self, ctx: ChildContext) -> None:
        """Supervised child body: restart the postmaster whenever it has died."""
        ctx.expose(lambda: {"restarts_of_postgres": self.restarts, "postgres_running": self.running()})
        ctx.started()
        await ctx.run_until_stopped(self._watch_forever)

    async def _watch_forever(self) -> None:
        while True:
            await trio.sleep(WATCH_INTERVAL_S)
            if not await trio.to_thread.run_sync(self.running):
                log.error("the embedded PostgreSQL is gone: starting it again")
                await trio.to_thread.run_sync(self.restart)

    def stop(self) -> None:
        """Stop the cluster, unless another live process of ours still holds it."""
        if self._server is not None:
            _forget_dead_handles(self.pgdata)
            self._server.cleanup()
            self._server = None


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the processes that died without letting go of the cluster from pgserver's list.

    pgserver stops PostgreSQL when the last process holding it exits, judged by a list of pids
    on disk. A server killed with ``kill -9`` never removes its pid, so every later clean exit
    would see another holder and leave PostgreSQL running. Pruning the dead ones (under
    pgserver's own lock) keeps "stopped on exit" true after a crash.
    """
    handles = pgdata / ".handle_pids.json"
    with pgserver.PostgresServer._lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if pid == os.getpid() or psutil.pid_exists(pid)]
        if alive != pids:
            log.info("forgetting %d dead holder(s) of the embedded PostgreSQL", len(pids) - len(alive))
            handles.write_text(json.dumps(alive))


def _make_traversable(directory: Path) -> None:
    """Let the ``pgserver`` system user reach the cluster directory.

    Only needed as root: pgserver then runs postgres as a separate unprivileged user, which must
    be able to traverse ``data_dir`` (pgserver itself fixes the directories above it). As any
    other user postgres runs as us, and we leave the permissions of the data directory alone.
    """
    if os.geteuid() == 0:
        directory.chmod(directory.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[EmbeddedPostgres]:
    """Run an embedded cluster for the duration of the block (its ``dsn`` set)."""
    server = EmbeddedPostgres(data_dir)
    await trio.to_thread.run_sync(server.start)
    try:
        yield server
    finally:
        # Shielded: a cancelled server must still stop its postgres, not leak it.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)
