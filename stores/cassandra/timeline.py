"""Cassandra implementation of :class:`stores.timeline.TimelineStore`.

Allocation: an append to a stream reads the head hint *h* and inserts entry *h + 1* with
``IF NOT EXISTS`` (a lightweight transaction, i.e. compare-and-set on the slot). If another writer
got there first the insert is not applied and we try the next slot, until one is ours. Claiming
the slot and writing the entry are thus one atomic step, which keeps the contract: a slot is only
tried once the one below it exists, so numbers are gap-free and entry *n* is never visible before
*n - 1*. (Compare-and-set on the head and then writing the entry would leave a window — and, if
the writer died in between, a permanent hole — where *n + 1* is readable and *n* is not.) The head
hint is advanced after the claim; a stale hint only costs extra tries, never a wrong number.

A fan-out runs these claims for all users concurrently, in rounds: every user still without a
number tries their next slot in the same round. Unlike PostgreSQL's, an append to many users is
not atomic: a failure part-way leaves some users with the entry (Cassandra has no multi-partition
transactions), and the error says the outcome is unknown.

The driver is thread-based, so each store call runs its driver work in a Trio worker thread.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar

import msgpack
import trio
from cassandra import OperationTimedOut, RequestExecutionException
from cassandra.cluster import Cluster, NoHostAvailable, Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement

from kernel.errors import StoreUnavailable
from stores.cassandra.schema import DEFAULT_REPLICATION, bucket_of, last_of_bucket, schema, statements
from stores.timeline import STREAMS, Entry

T = TypeVar("T")

CONCURRENCY = 256
"""Requests in flight at once during a fan-out."""


@dataclass(frozen=True)
class Prepared:
    """The store's prepared statements (CQL text in :func:`stores.cassandra.schema.statements`)."""

    read_head: PreparedStatement
    write_head: PreparedStatement
    claim: PreparedStatement
    last_after: PreparedStatement
    after: PreparedStatement
    before: PreparedStatement


class CassandraTimelineStore:
    def __init__(self, session: Session, prepared: Prepared, *, ttl_s: int = 0) -> None:
        """``ttl_s`` expires entries that many seconds after they are written (0: never)."""
        self._session = session
        self._q = prepared
        self._ttl_s = ttl_s

    async def append(
        self, user_ids: Sequence[int], stream: str, type: str, body: dict[str, Any]
    ) -> list[tuple[int, int]]:
        """See :meth:`TimelineStore.append`; duplicate ids get one entry, and the result is in
        ascending user id order."""
        _check_stream(stream)
        users = sorted(set(user_ids))
        blob = msgpack.packb(body)
        created_ms = int(time.time() * 1000)
        return await self._in_thread(lambda: self._append(users, stream, type, blob, created_ms))

    async def read_after(self, user_id: int, stream: str, after: int, limit: int = 200) -> list[Entry]:
        _check_stream(stream)
        return await self._in_thread(lambda: self._read_after(user_id, stream, after, limit))

    async def read_before(
        self, user_id: int, stream: str, before: int | None = None, limit: int = 50
    ) -> list[Entry]:
        _check_stream(stream)
        return await self._in_thread(lambda: self._read_before(user_id, stream, before, limit))

    async def head(self, user_id: int, stream: str) -> int:
        _check_stream(stream)
        return await self._in_thread(lambda: self._head(user_id, stream))

    # --- driver work, in a worker thread ------------------------------------------------
    def _append(
        self, users: list[int], stream: str, type: str, blob: bytes, created_ms: int
    ) -> list[tuple[int, int]]:
        hints = self._many(self._q.read_head, [(user, stream) for user in users])
        trying = {user: _seq_or_zero(rows.one()) + 1 for user, rows in zip(users, hints, strict=True)}
        claimed: dict[int, int] = {}
        while trying:
            attempts = list(trying.items())
            results = self._many(
                self._q.claim,
                [
                    (user, stream, bucket_of(seq), seq, type, blob, created_ms, self._ttl_s)
                    for user, seq in attempts
                ],
            )
            for (user, seq), result in zip(attempts, results, strict=True):
                if result.was_applied:
                    claimed[user] = trying.pop(user)
                else:
                    trying[user] = seq + 1
        self._many(self._q.write_head, [(seq, seq, user, stream) for user, seq in claimed.items()])
        return sorted(claimed.items())

    def _head(self, user_id: int, stream: str) -> int:
        """The hint, then forward past any entries claimed after it was written (a writer that
        died before advancing it, or a concurrent one): the rows after it are contiguous."""
        last = _seq_or_zero(self._session.execute(self._q.read_head, (user_id, stream)).one())
        while True:
            newer = self._session.execute(
                self._q.last_after, (user_id, stream, bucket_of(last + 1), last)
            ).one()
            if newer is None:
                return last
            last = newer.seq
            if last != last_of_bucket(bucket_of(last)):
                return last

    def _read_after(self, user_id: int, stream: str, after: int, limit: int) -> list[Entry]:
        """Bucket by bucket up to the head's; empty buckets on the way (expired) are skipped."""
        last_bucket = bucket_of(self._head(user_id, stream))
        entries: list[Entry] = []
        bucket = bucket_of(after + 1)
        while len(entries) < limit and bucket <= last_bucket:
            rows = self._session.execute(
                self._q.after, (user_id, stream, bucket, after, limit - len(entries))
            )
            entries.extend(_entry(user_id, stream, row) for row in rows)
            bucket += 1
        return entries

    def _read_before(self, user_id: int, stream: str, before: int | None, limit: int) -> list[Entry]:
        """Bucket by bucket downwards; an empty bucket means everything older has expired."""
        head = self._head(user_id, stream)
        bound = head + 1 if before is None else min(before, head + 1)
        entries: list[Entry] = []
        bucket = bucket_of(bound - 1)
        while len(entries) < limit and bucket >= 0:
            rows = list(
                self._session.execute(self._q.before, (user_id, stream, bucket, bound, limit - len(entries)))
            )
            if not rows:
                break
            entries.extend(_entry(user_id, stream, row) for row in rows)
            bucket -= 1
        return entries

    def _many(self, statement: PreparedStatement, params: list[tuple[Any, ...]]) -> list[Any]:
        """Run ``statement`` once per parameter tuple, ``CONCURRENCY`` at a time; the results in
        order. The first failure is raised."""
        results = execute_concurrent_with_args(
            self._session, statement, params, concurrency=CONCURRENCY, raise_on_first_error=True
        )
        return [result for _, result in results]

    async def _in_thread(self, work: Callable[[], T]) -> T:
        try:
            return await trio.to_thread.run_sync(work)
        except (RequestExecutionException, OperationTimedOut, NoHostAvailable) as exc:
            raise StoreUnavailable(f"Cassandra: {exc}") from exc


def _seq_or_zero(row: Any) -> int:
    """A head hint row's number; 0 for a stream never appended to."""
    return 0 if row is None else row.seq


def _entry(user_id: int, stream: str, row: Any) -> Entry:
    created_at = row.created_at.replace(tzinfo=UTC).timestamp()  # the driver returns naive UTC
    return Entry(user_id, stream, row.seq, row.type, msgpack.unpackb(row.body), created_at)


def _check_stream(stream: str) -> None:
    """Reject unknown streams before they become partitions no reader ever asks for."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")


def _connect(
    cluster: Cluster, keyspace: str, replication: Mapping[str, str | int], ttl_s: int
) -> CassandraTimelineStore:
    session = cluster.connect()
    for statement in schema(keyspace, replication):
        session.execute(statement)
    prepared = Prepared(**{name: session.prepare(cql) for name, cql in statements(keyspace).items()})
    return CassandraTimelineStore(session, prepared, ttl_s=ttl_s)


@asynccontextmanager
async def open_cassandra_timeline(
    hosts: Sequence[str],
    keyspace: str = "viora",
    *,
    replication: Mapping[str, str | int] = DEFAULT_REPLICATION,
    ttl_s: int = 0,
) -> AsyncIterator[CassandraTimelineStore]:
    """Connect to the cluster at ``hosts``, create the keyspace and tables if missing, prepare the
    statements; shut the connections down when the block ends."""
    cluster = Cluster(list(hosts))
    try:
        try:
            store = await trio.to_thread.run_sync(_connect, cluster, keyspace, replication, ttl_s)
        except NoHostAvailable as exc:
            raise StoreUnavailable(f"cannot connect to Cassandra at {', '.join(hosts)}: {exc}") from exc
        yield store
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(cluster.shutdown)
