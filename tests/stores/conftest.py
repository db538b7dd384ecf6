"""Fixtures that run the store suite against every PostgreSQL we can reach.

``pg_admin_dsn`` is parametrised: "embedded" starts a pgserver cluster once per session in a
fresh temp dir; "server" uses ``VIORA_TEST_PG_DSN`` (default: the local PostgreSQL on 5432) and
is skipped when that server is unreachable, except under ``CI=true`` where it fails the run, so
CI cannot silently lose half of its coverage. Tests never touch the admin database itself: they
get a scratch database created for them and dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from stores.postgres.database import Database, open_database
from stores.postgres.embedded import EmbeddedPostgres
from stores.postgres.users import PostgresUserStore

DEFAULT_SERVER_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session", params=["embedded", "server"])
def pg_admin_dsn(request: pytest.FixtureRequest) -> Iterator[str]:
    """DSN of a maintenance database on one PostgreSQL implementation (see module docstring)."""
    if request.param == "embedded":
        with _embedded_cluster() as dsn:
            yield dsn
    else:
        yield _reachable_server_dsn()


@contextmanager
def _embedded_cluster() -> Iterator[str]:
    # Our own short temp dir: pytest's tmp_path is private to root (the pgserver user cannot
    # traverse it) and long enough to threaten the unix-socket path limit.
    data_dir = Path(tempfile.mkdtemp(prefix="viora-pg-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def _reachable_server_dsn() -> str:
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


@pytest.fixture(scope="session")
def pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A database shared by the session's tests; tests use unique names to stay independent."""
    with scratch_database(pg_admin_dsn) as dsn:
        yield dsn


@pytest.fixture
def fresh_pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """An empty database of its own, for tests that need the schema from scratch."""
    with scratch_database(pg_admin_dsn) as dsn:
        yield dsn


@pytest.fixture
async def db(pg_dsn: str) -> AsyncIterator[Database]:
    async with open_database(pg_dsn, min_size=1, max_size=4) as database:
        yield database


@pytest.fixture
def user_store(db: Database) -> PostgresUserStore:
    return PostgresUserStore(db)
