"""A private PostgreSQL server for installs that do not configure one.

Why pgserver: it bundles real PostgreSQL 16 binaries in a wheel, so a developer laptop or a
single-box install runs exactly the SQL production runs (identity columns, ``bytea``, advisory
locks, ``RETURNING``). The alternative, SQLite for small installs, would have meant a second SQL
dialect, a second set of migrations and bugs that only show up in one of them.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import; in containers without
    # XDG_RUNTIME_DIR that warns and falls back to /tmp, which is fine for its lock file.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR", category=UserWarning)
    import pgserver


class EmbeddedPostgres:
    """One pgserver cluster under ``<data_dir>/postgres``.

    The methods block (initdb, pg_ctl): call them from a worker thread, or use
    :func:`embedded_postgres`, which does.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.pgdata = self.data_dir / "postgres"
        self._server: pgserver.PostgresServer | None = None

    def start(self) -> str:
        """Start (or attach to) the cluster and return a DSN for its ``postgres`` database."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _make_traversable(self.data_dir)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return self._server.get_uri()

    def stop(self) -> None:
        """Stop the cluster, unless another process of ours still holds it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def _make_traversable(directory: Path) -> None:
    """Let the ``pgserver`` system user reach the cluster directory.

    Only needed as root: pgserver then runs postgres as a separate unprivileged user, which must
    be able to traverse ``data_dir`` (pgserver itself fixes the directories above it). As any
    other user postgres runs as us, and we leave the permissions of the data directory alone.
    """
    if os.geteuid() == 0:
        directory.chmod(directory.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)


@asynccontextmanager
async def embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Run an embedded cluster for the duration of the block; yields its DSN."""
    server = EmbeddedPostgres(data_dir)
    dsn = await trio.to_thread.run_sync(server.start)
    try:
        yield dsn
    finally:
        # Shielded: a cancelled server must still stop its postgres, not leak it.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)
