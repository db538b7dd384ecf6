"""Fixtures that run the store suite against every PostgreSQL we can reach.

``pg_admin_dsn`` is parametrised: "embedded" starts a pgserver cluster once per session in a
fresh temp dir; "server" uses ``VIORA_TEST_PG_DSN`` (default: the local PostgreSQL on 5432) and
is skipped when that server is unreachable, except under ``CI=true`` where it fails the run, so
CI cannot silently lose half of its coverage. Tests never touch the admin database itself: they
get a scratch database created for them and dropped afterwards.

``vector_store`` runs the vector contract on the embedded Qdrant, on qdrant-client's local mode
and on a Qdrant server at ``VIORA_QDRANT_URL`` (skipped when unset).

``timeline_store`` runs the timeline contract on both PostgreSQL implementations and on Cassandra
at ``VIORA_CASSANDRA_HOSTS`` (skipped when unset: no Cassandra server comes with the project).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cassandra.cluster import Cluster
from pgtools import reachable_server_dsn, scratch_database
from qdrant_client import QdrantClient

from stores.cassandra import CassandraTimelineStore, open_cassandra_timeline
from stores.cassandra import schema as cassandra_schema
from stores.cassandra import timeline as cassandra_timeline
from stores.cassandra.schema import statements
from stores.cassandra.timeline import Prepared
from stores.postgres.database import Database, open_database
from stores.postgres.social import PostgresSocialStore
from stores.postgres.timeline import PostgresTimelineStore
from stores.postgres.users import PostgresUserStore
from stores.qdrant import open_edge_vectors, open_server_vectors
from stores.timeline import TimelineStore
from stores.vectors import VectorStore

_KEYSPACE = f"viora_test_{uuid.uuid4().hex[:12]}"
"""The Cassandra keyspace of this test run."""


def _admin_dsn(request: pytest.FixtureRequest, implementation: str) -> str:
    if implementation == "embedded":
        return request.getfixturevalue("embedded_pg_admin_dsn")
    return reachable_server_dsn()


@pytest.fixture(scope="session", params=["embedded", "server"])
def pg_admin_dsn(request: pytest.FixtureRequest) -> str:
    """DSN of a maintenance database on one PostgreSQL implementation (see module docstring)."""
    return _admin_dsn(request, request.param)


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


NewUsers = Callable[[int], Awaitable[list[int]]]


@pytest.fixture
def new_users(user_store: PostgresUserStore) -> NewUsers:
    """``await new_users(n)``: the ids of n new accounts."""

    async def create(n: int) -> list[int]:
        return [
            (await user_store.create_user(f"u_{uuid.uuid4().hex[:16]}", "Someone", "h")).id for _ in range(n)
        ]

    return create


@pytest.fixture
def social_store(db: Database) -> PostgresSocialStore:
    return PostgresSocialStore(db)


@pytest.fixture(
    scope="session", params=["postgres-embedded", "postgres-server", "cassandra-memory", "cassandra"]
)
def timeline_backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(param, where): a scratch PostgreSQL database, or Cassandra hosts (comma-separated; the
    run's own keyspace is dropped at the end); nothing for the in-memory Cassandra stand-in."""
    if request.param.startswith("postgres-"):
        with scratch_database(_admin_dsn(request, request.param.removeprefix("postgres-"))) as dsn:
            yield request.param, dsn
        return
    if request.param == "cassandra-memory":
        yield request.param, ""
        return
    hosts = os.environ.get("VIORA_CASSANDRA_HOSTS")
    if not hosts:
        pytest.skip("no Cassandra server: set VIORA_CASSANDRA_HOSTS=host[,host…] to test that backend")
    yield request.param, hosts
    _drop_keyspace(hosts.split(","), _KEYSPACE)


def _drop_keyspace(hosts: list[str], keyspace: str) -> None:
    cluster = Cluster(hosts)
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}")
    finally:
        cluster.shutdown()


@pytest.fixture
async def timeline_store(
    request: pytest.FixtureRequest, timeline_backend: tuple[str, str]
) -> AsyncIterator[TimelineStore]:
    """The timeline contract's subject; tests use random user ids to stay independent."""
    param, where = timeline_backend
    if param.startswith("postgres-"):
        async with open_database(where, min_size=1, max_size=4) as database:
            yield PostgresTimelineStore(database)
    elif param == "cassandra-memory":
        yield request.getfixturevalue("memory_cassandra_store")
    else:
        async with open_cassandra_timeline(where.split(","), _KEYSPACE) as store:
            yield store


@pytest.fixture
def memory_cassandra() -> MemoryCassandra:
    return MemoryCassandra()


@pytest.fixture
def memory_cassandra_store(
    memory_cassandra: MemoryCassandra, monkeypatch: pytest.MonkeyPatch
) -> CassandraTimelineStore:
    """The Cassandra store on :class:`MemoryCassandra`."""
    monkeypatch.setattr(cassandra_timeline, "execute_concurrent_with_args", _execute_one_by_one)
    # Tiny partitions, so that the tests' short streams cross bucket boundaries.
    monkeypatch.setattr(cassandra_schema, "BUCKET_SIZE", 4)
    prepared = Prepared(**{name: name for name in statements("ks")})  # type: ignore[arg-type]
    return CassandraTimelineStore(memory_cassandra, prepared)  # type: ignore[arg-type]


class _Rows:
    """What the store reads of a driver ResultSet."""

    def __init__(self, rows: list[SimpleNamespace], *, applied: bool = True) -> None:
        self._rows = rows
        self.was_applied = applied

    def __iter__(self) -> Iterator[SimpleNamespace]:
        return iter(self._rows)

    def one(self) -> SimpleNamespace | None:
        return self._rows[0] if self._rows else None


class MemoryCassandra:
    """A stand-in session that runs the store's statements (passed by name instead of prepared)
    on dicts, each atomically as a lightweight transaction is, with last-write-wins timestamps on
    heads. It lets the contract tests drive the Cassandra store's own logic — slot claims racing
    between threads, head probing, bucket walks — where no server is available. TTLs are ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[tuple[int, str], tuple[int, int]] = {}  # (write timestamp, seq)
        self._entries: dict[tuple[int, str, int], dict[int, SimpleNamespace]] = defaultdict(dict)

    def execute(self, name: str, params: tuple[Any, ...]) -> _Rows:
        with self._lock:
            return getattr(self, name)(*params)

    def read_head(self, user: int, stream: str) -> _Rows:
        head = self._heads.get((user, stream))
        return _Rows([] if head is None else [SimpleNamespace(seq=head[1])])

    def write_head(self, timestamp: int, seq: int, user: int, stream: str) -> _Rows:
        self._heads[(user, stream)] = max(self._heads.get((user, stream), (0, 0)), (timestamp, seq))
        return _Rows([])

    def claim(
        self,
        user: int,
        stream: str,
        bucket: int,
        seq: int,
        type: str,
        body: bytes,
        created_ms: int,
        _ttl: int,
    ) -> _Rows:
        partition = self._entries[(user, stream, bucket)]
        if seq in partition:
            return _Rows([], applied=False)
        created_at = datetime.fromtimestamp(created_ms / 1000, UTC).replace(tzinfo=None)
        partition[seq] = SimpleNamespace(seq=seq, type=type, body=body, created_at=created_at)
        return _Rows([])

    def last_after(self, user: int, stream: str, bucket: int, after: int) -> _Rows:
        return _Rows(self._slice(user, stream, bucket, lambda seq: seq > after, descending=True)[:1])

    def after(self, user: int, stream: str, bucket: int, after: int, limit: int) -> _Rows:
        return _Rows(self._slice(user, stream, bucket, lambda seq: seq > after, descending=False)[:limit])

    def before(self, user: int, stream: str, bucket: int, before: int, limit: int) -> _Rows:
        return _Rows(self._slice(user, stream, bucket, lambda seq: seq < before, descending=True)[:limit])

    def _slice(
        self, user: int, stream: str, bucket: int, keep: Callable[[int], bool], *, descending: bool
    ) -> list[SimpleNamespace]:
        partition = self._entries.get((user, stream, bucket), {})
        return [partition[seq] for seq in sorted(partition, reverse=descending) if keep(seq)]


def _execute_one_by_one(
    session: MemoryCassandra, statement: str, parameters: list[tuple[Any, ...]], **_: Any
) -> list[tuple[bool, _Rows]]:
    """``cassandra.concurrent.execute_concurrent_with_args`` for the stand-in session."""
    return [(True, session.execute(statement, params)) for params in parameters]


# --- vectors --------------------------------------------------------------------------------


@pytest.fixture(params=["edge", "client-local", "qdrant-server"])
def vector_backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(param, Qdrant server URL or ""): skipped here, outside Trio, so the reason is reported."""
    if request.param != "qdrant-server":
        return request.param, ""
    url = os.environ.get("VIORA_QDRANT_URL")
    if not url:
        pytest.skip("no Qdrant server: set VIORA_QDRANT_URL=http://host:6333 to test that backend")
    return request.param, url


@pytest.fixture
async def vector_store(vector_backend: tuple[str, str], tmp_path: Path) -> AsyncIterator[VectorStore]:
    """The VectorStore contract's subject, empty: the embedded qdrant-edge store; the qdrant-client
    store on the client's local mode (the server backend's code, without a server); and that store
    on a Qdrant server at ``VIORA_QDRANT_URL`` (skipped when unset: no server comes with the
    project), in a collection of its own that is dropped afterwards."""
    param, url = vector_backend
    if param == "edge":
        async with open_edge_vectors(tmp_path / "vectors") as store:
            yield store
        return
    if param == "client-local":
        # One call at a time: local mode is not thread-safe (a search racing an upsert fails).
        async with open_server_vectors(QdrantClient(location=":memory:"), "test", threads=1) as store:
            yield store
        return
    collection = f"viora_test_{uuid.uuid4().hex[:12]}"
    # Exact search, as the embedded store: the suite checks semantics, not the server's HNSW.
    async with open_server_vectors(QdrantClient(url=url), collection, exact=True) as store:
        yield store
    cleanup = QdrantClient(url=url)
    cleanup.delete_collection(collection)
    cleanup.close()
