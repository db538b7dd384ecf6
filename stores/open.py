"""Open every store the server needs from :class:`kernel.config.Settings`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from kernel.config import Settings
from stores.analysis import AnalysisStore
from stores.cassandra import open_cassandra_timeline
from stores.fanout import FanoutLedger
from stores.messaging import MessageStore
from stores.postgres.analysis import PostgresAnalysisStore
from stores.postgres.database import Database, open_database
from stores.postgres.embedded import EmbeddedPostgres, embedded_postgres
from stores.postgres.fanout import PostgresFanoutLedger
from stores.postgres.messaging import PostgresMessageStore
from stores.postgres.safety import PostgresSafetyStore
from stores.postgres.social import PostgresSocialStore
from stores.postgres.timeline import PostgresTimelineStore
from stores.postgres.users import PostgresUserStore
from stores.qdrant.open import open_vectors
from stores.safety import SafetyStore
from stores.social import SocialStore
from stores.timeline import TimelineStore
from stores.users import UserStore
from stores.vectors import VectorStore


@dataclass(frozen=True)
class Stores:
    db: Database
    users: UserStore
    social: SocialStore
    messages: MessageStore
    timeline: TimelineStore
    """In Cassandra when ``settings.cassandra_hosts`` is set, else in PostgreSQL."""
    fanout: FanoutLedger
    """Posts awaiting their fan-out (in PostgreSQL, beside the posts, whatever holds the timelines)."""
    vectors: VectorStore
    """A Qdrant server when ``settings.qdrant_url`` is set, else embedded under ``data_dir/vectors``."""
    analysis: AnalysisStore
    safety: SafetyStore
    """Reports, the moderators' resolutions, mutes."""
    dsn: str
    embedded: EmbeddedPostgres | None
    """The PostgreSQL we started ourselves under ``settings.data_dir`` (its watchdog is a child of
    the tree), or None when ``settings.pg_dsn`` names a server someone else runs."""


@asynccontextmanager
async def open_stores(settings: Settings) -> AsyncIterator[Stores]:
    """Connect to ``settings.pg_dsn``, or start an embedded PostgreSQL when it is unset.

    Everything is closed (and the embedded server stopped) when the block ends.
    """
    async with AsyncExitStack() as stack:
        embedded: EmbeddedPostgres | None = None
        if settings.pg_dsn is None:
            embedded = await stack.enter_async_context(embedded_postgres(settings.data_dir))
            dsn = embedded.dsn
        else:
            dsn = settings.pg_dsn
        db = await stack.enter_async_context(
            open_database(dsn, max_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout_s)
        )
        timeline: TimelineStore
        if settings.cassandra_hosts:
            hosts = [host.strip() for host in settings.cassandra_hosts.split(",")]
            timeline = await stack.enter_async_context(
                open_cassandra_timeline(hosts, settings.cassandra_keyspace)
            )
        else:
            timeline = PostgresTimelineStore(db)
        vectors = await stack.enter_async_context(open_vectors(settings))
        yield Stores(
            db=db,
            users=PostgresUserStore(db),
            social=PostgresSocialStore(db),
            messages=PostgresMessageStore(db),
            timeline=timeline,
            fanout=PostgresFanoutLedger(db),
            vectors=vectors,
            analysis=PostgresAnalysisStore(db),
            safety=PostgresSafetyStore(db),
            dsn=dsn,
            embedded=embedded,
        )
