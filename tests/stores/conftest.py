"""Fixtures that run the store suite against every PostgreSQL we can reach.

``pg_admin_dsn`` is parametrised: "embedded" starts a pgserver cluster once per session in a
fresh temp dir; "server" uses ``VIORA_TEST_PG_DSN`` (default: the local PostgreSQL on 5432) and
is skipped when that server is unreachable, except under ``CI=true`` where it fails the run, so
CI cannot silently lose half of its coverage. Tests never touch the admin database itself: they
get a scratch database created for them and dropped afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from pgtools import reachable_server_dsn, scratch_database

from stores.postgres.database import Database, open_database
from stores.postgres.users import PostgresUserStore


@pytest.fixture(scope="session", params=["embedded", "server"])
def pg_admin_dsn(request: pytest.FixtureRequest) -> str:
    """DSN of a maintenance database on one PostgreSQL implementation (see module docstring)."""
    if request.param == "embedded":
        return request.getfixturevalue("embedded_pg_admin_dsn")
    return reachable_server_dsn()


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
