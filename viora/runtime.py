"""The running server's object graph: stores, the supervision tree, and the services over them.

Tree (children start top to bottom and stop bottom to top)::

    /viora                   one_for_one
      postgres               embedded PostgreSQL only: its watchdog, restarting it if it dies
      loop-probe             event-loop lag
      presence               who is online; tells followers when users come and go
      embedder               batching CLIP embedder (one model, one inference at a time)
      indexer                moderation of new media, embeddings and alignment of new posts
      sessions               one SessionActor per signed-in user (started on demand)
      feed                   FeedActors: fan-out of new posts to followers' home timelines
      media                  MediaActors + the dispatcher of durable media jobs (see actors/media/service.py)
      heartbeats             pings quiet sockets, closes dead ones
      bus                    with Redis only: the subscriber of the cross-process event bus
      presence-node          with Redis only: keeps this process live for cluster presence
      http                   hypercorn: stopped first, so no new work arrives while the rest drains
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from actors.actor import ActorRef, actor_spec
from actors.embedder import EmbedderService
from actors.embedder.indexer import AnalyseMedia, IndexActor, IndexPost
from actors.feed.actor import FeedRouter
from actors.media.service import MediaService
from actors.session.directory import SessionDirectory
from actors.session.presence import PresenceActor, PresenceChanged
from edges.ws.context import Services
from edges.ws.sockets import SocketRegistry
from kernel.config import Settings
from kernel.probe import LoopLagProbe
from ml.clip import RANDOM_INIT_QUALITY, ClipSource
from ml.moderation import Moderation
from services.accounts import Accounts
from services.intelligence import IntelligenceService
from services.messaging import MessagingService
from services.safety import SafetyService
from services.social import SocialService
from services.streams import TimelineStreams
from stores.bus import EventBus, InProcessBus, LocalDeliverer, user_pusher
from stores.open import Stores, open_stores
from stores.postgres.media import PostgresMediaStore
from stores.presence import InProcessPresence, PresenceStore
from stores.redis.bus import RedisBus
from stores.redis.client import RedisClient, open_redis
from stores.redis.presence import RedisPresence
from stores.redis.throttle import RedisThrottle
from stores.throttle import FailureThrottle, MemoryThrottle
from supervisor import ChildContext, ChildSpec, Supervisor

log = logging.getLogger("viora")

HttpServer = Callable[["Runtime", ChildContext], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    stores: Stores
    root: Supervisor
    services: Services
    probe: LoopLagProbe
    admin_token: str
    http_url: str | None = field(default=None)
    media: MediaService = field(kw_only=True)
    feed: FeedRouter = field(kw_only=True)


def load_or_create_admin_token(settings: Settings) -> str:
    """The configured admin token, or one generated once and kept (mode 0600) in the data dir."""
    if settings.admin_token:
        return settings.admin_token
    path: Path = settings.admin_token_path
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    log.info("admin token written to %s", path)
    return token


def live_delivery(
    settings: Settings, redis: RedisClient | None, local: LocalDeliverer
) -> tuple[EventBus, PresenceStore, list[ChildSpec]]:
    """The event bus and the presence store: in memory for a process alone, in Redis when several
    share the site — with the children that keep the Redis ones running."""
    if redis is None:
        return InProcessBus(local), InProcessPresence(), []
    bus = RedisBus(redis, local, shutdown_s=settings.shutdown_drain_s)
    presence = RedisPresence(redis, ttl_s=settings.presence_ttl_s)
    return bus, presence, [bus.child_spec(), presence.child_spec()]


def failure_throttle(redis: RedisClient | None) -> FailureThrottle:
    """Sign-in failures counted in memory for a process alone, in Redis when several share the
    site (a guesser must not get one allowance per process)."""
    return MemoryThrottle(trio.current_time) if redis is None else RedisThrottle(redis)


@dataclass
class ContentServices:
    """Media processing and content understanding, and the actor that connects them."""

    media: MediaService
    embedder: EmbedderService
    intelligence: IntelligenceService
    index_ref: ActorRef[IndexActor]
    index_spec: ChildSpec

    @classmethod
    def build(cls, settings: Settings, stores: Stores, bus: EventBus) -> ContentServices:
        index_ref: ActorRef[IndexActor] = ActorRef("indexer", settings.index_mailbox)
        media = MediaService(
            settings,
            PostgresMediaStore(stores.db),
            user_pusher(bus),
            on_ready=lambda media_id: index_ref.try_tell(AnalyseMedia(media_id)),
        )
        embedder = EmbedderService(settings)
        intelligence = IntelligenceService(
            media=media.store,
            blobs=media.blobs,
            analysis=stores.analysis,
            vectors=stores.vectors,
            social=stores.social,
            mutes=stores.safety,
            embedder=embedder.client,
            moderation=Moderation.from_settings(settings),
            zero_shot=ClipSource.from_settings(settings).quality != RANDOM_INIT_QUALITY,
        )
        index_spec, _ = actor_spec("indexer", lambda: IndexActor(intelligence), ref=index_ref)
        return cls(media, embedder, intelligence, index_ref, index_spec)


def check_vector_dim(settings: Settings) -> None:
    """Refuse to start when the vector store's dimension is not the CLIP model's: every post's
    indexing would fail later, one log line at a time, instead of once here."""
    model_dim = ClipSource.from_settings(settings).embed_dim
    if model_dim != settings.vector_dim:
        raise ValueError(
            f"VIORA_VECTOR_DIM is {settings.vector_dim} but the CLIP model {settings.clip_model} embeds in"
            f" {model_dim} dimensions: set VIORA_VECTOR_DIM={model_dim}"
        )


@dataclass
class LiveDelivery:
    """Who is online here, and how pushes reach them: the sessions subtree and its directory, the
    presence actor, the event bus and the presence store (with their Redis children, if any)."""

    sessions: Supervisor
    directory: SessionDirectory
    streams: TimelineStreams
    """The durable streams as sessions replay them (and timelines read them)."""
    bus: EventBus
    presence: PresenceStore
    presence_spec: ChildSpec
    children: list[ChildSpec]
    """The bus's and presence's own children (Redis only)."""
    throttle: FailureThrottle
    """Sign-in failures, shared like the bus."""

    @classmethod
    def build(cls, settings: Settings, stores: Stores, redis: RedisClient | None) -> LiveDelivery:
        sessions = Supervisor("sessions", intensity=100, period_s=10.0)
        presence_ref: ActorRef[PresenceActor] = ActorRef("presence", settings.presence_mailbox)
        streams = TimelineStreams(stores.timeline, stores.social, stores.safety)
        directory = SessionDirectory(
            sessions,
            mailbox=settings.session_mailbox,
            idle_s=settings.session_idle_s,
            streams=streams,
            on_presence=lambda user_id: presence_ref.try_tell(PresenceChanged(user_id)),
        )
        bus, presence, children = live_delivery(settings, redis, directory)
        presence_spec, _ = actor_spec(
            "presence",
            lambda: PresenceActor(
                presence, stores.social, bus, directory.is_online, settings.fanout_write_limit
            ),
            ref=presence_ref,
        )
        return cls(sessions, directory, streams, bus, presence, presence_spec, children, failure_throttle(redis))


def build_feed(settings: Settings, stores: Stores, live: LiveDelivery, content: ContentServices) -> FeedRouter:
    return FeedRouter(
        settings.feed_actors,
        social=stores.social,
        timeline=stores.timeline,
        ledger=stores.fanout,
        sessions=live.directory,
        bus=live.bus,
        write_limit=settings.fanout_write_limit,
        mailbox=settings.feed_mailbox,
        mutes=stores.safety,
        # Indexing waits for live delivery: inference must not compete with a fan-out.
        after_fan_out=lambda post: content.index_ref.try_tell(IndexPost(post.id)),
    )


def build_services(
    settings: Settings, stores: Stores, live: LiveDelivery, content: ContentServices, feed: FeedRouter
) -> Services:
    """The domain services, as the edges reach them."""
    social = SocialService(
        users=stores.users,
        social=stores.social,
        timeline=stores.timeline,
        streams=live.streams,
        bus=live.bus,
        feed=feed,
        presence=live.presence,
        mutes=stores.safety,
        intelligence=content.intelligence,
        reindex=lambda post_id: content.index_ref.try_tell(IndexPost(post_id)),
        fanout_write_limit=settings.fanout_write_limit,
    )
    return Services(
        settings=settings,
        accounts=Accounts(stores.users, settings, live.bus, live.throttle),
        sessions=live.directory,
        sockets=SocketRegistry(settings),
        social=social,
        presence=live.presence,
        messaging=MessagingService(
            stores.messages, stores.social, stores.timeline, live.bus, content.intelligence
        ),
        intelligence=content.intelligence,
        safety=SafetyService(
            safety=stores.safety,
            social=stores.social,
            messages=stores.messages,
            posts=social,
            open_reports_limit=settings.reports_open_limit,
        ),
    )


def tree_children(
    settings: Settings,
    stores: Stores,
    live: LiveDelivery,
    content: ContentServices,
    feed: FeedRouter,
    services: Services,
    probe: LoopLagProbe,
) -> list[ChildSpec]:
    """The root's children in start order (they stop in reverse: see the module docstring)."""
    children = [
        ChildSpec("loop-probe", probe.run),
        live.presence_spec,
        content.embedder.child_spec(),
        content.index_spec,
        live.sessions.child_spec(shutdown_s=settings.shutdown_drain_s),
        Supervisor("feed", feed.specs).child_spec(shutdown_s=settings.shutdown_drain_s),
        content.media.child_spec(),
        ChildSpec("heartbeats", services.sockets.run_sweeper),
        *live.children,
    ]
    if stores.embedded is not None:
        children.insert(0, ChildSpec("postgres", stores.embedded.watch))  # first up, last down
    return children


async def grant_listed_moderators(settings: Settings, services: Services) -> None:
    """``VIORA_ADMIN_USERS``, applied once, to the accounts that exist now (see ``Accounts``)."""
    missing = await services.accounts.grant_listed_moderators(settings.admin_users)
    if missing:
        log.warning(
            "VIORA_ADMIN_USERS names no account: %s (not granted; `viora moderators grant` once they exist)",
            ", ".join(missing),
        )


@asynccontextmanager
async def open_runtime(settings: Settings, http: HttpServer | None = None) -> AsyncIterator[Runtime]:
    """Open the stores, start the supervision tree (with ``http`` as its last child), and on exit
    shut the tree down in reverse order before the stores close."""
    check_vector_dim(settings)
    admin_token = load_or_create_admin_token(settings)
    async with open_stores(settings) as stores, open_redis(settings) as redis:
        live = LiveDelivery.build(settings, stores, redis)
        content = ContentServices.build(settings, stores, live.bus)
        feed = build_feed(settings, stores, live, content)
        services = build_services(settings, stores, live, content, feed)
        await grant_listed_moderators(settings, services)
        probe = LoopLagProbe(settings.loop_lag_probe_s)
        children = tree_children(settings, stores, live, content, feed, services, probe)
        if http is not None:

            async def run_http(ctx: ChildContext) -> None:
                await http(runtime, ctx)

            children.append(ChildSpec("http", run_http, shutdown_s=settings.shutdown_drain_s))
        root = Supervisor("viora", children, intensity=5, period_s=30.0)
        runtime = Runtime(settings, stores, root, services, probe, admin_token, media=content.media, feed=feed)
        async with trio.open_nursery() as nursery:
            await nursery.start(root.run)
            try:
                yield runtime
            finally:
                with trio.CancelScope(shield=True):
                    await root.shutdown()
