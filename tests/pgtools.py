"""PostgreSQL helpers shared by the store suite and the server tests (not fixtures themselves)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from stores.postgres.embedded import EmbeddedPostgres

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def embedded_cluster() -> Iterator[str]:
    # Our own short temp dir: pytest's tmp_path is private to root (the pgserver user cannot
    # traverse it) and long enough to threaten the unix-socket path limit.
    data_dir = Path(tempfile.mkdtemp(prefix="viora-pg-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def reachable_server_dsn() -> str:
    """``VIORA_TEST_PG_DSN`` (default: local PostgreSQL); skip if unreachable — fail under CI."""
    dsn = os.environ.get("VIORA_TEST_PG_DSN", DEFAULT_SERVER_DSN)
    try:
        psycopg.connect(dsn, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        where = conninfo_to_dict(dsn)  # shown without the password
        reason = (
            f"no PostgreSQL server at {where.get('host')}:{where.get('port', 5432)} ({exc}); "
            "set VIORA_TEST_PG_DSN to test against one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return dsn


@contextmanager
def scratch_database(admin_dsn: str) -> Iterator[str]:
    """Create a uniquely named empty database, yield its DSN, drop it (and its sessions) after."""
    dbname = f"viora_test_{uuid.uuid4().hex[:12]}"
    name = sql.Identifier(dbname)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield make_conninfo(admin_dsn, dbname=dbname)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(name))
