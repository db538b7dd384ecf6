"""The IndexActor: runs the content-understanding jobs, off every request path.

Media analysis (moderation) and post indexing (embeddings, alignment) are queued here by the media
pipeline and by ``post.create``; requests never wait for them. Posts to index are taken in batches:
while the mailbox holds more ``IndexPost`` messages, they are gathered (up to ``INDEX_BATCH``) and
indexed together — one moderation call, one embedding batch, one upsert — so indexing keeps up
when posts arrive faster than one-at-a-time could go, and costs less CPU per post. A job that meets an outage (database,
vector store, a busy or restarting embedder) or fails on its own data is logged and counted, not
crashed on: re-running it is safe (every write is idempotent), and the next change to the same
content queues it again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from actors.actor import Actor
from kernel.errors import DomainError, StoreUnavailable

log = logging.getLogger("viora.indexer")

INDEX_BATCH = 32
"""Posts indexed together at most (the embedder's batch size)."""
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class AnalyseMedia:
    """A media item finished processing: moderate it, then re-index the posts that show it."""

    media_id: int


@dataclass(frozen=True, slots=True)
class IndexPost:
    post_id: int


class ContentAnalysis(Protocol):
    """The jobs this actor runs (``services.intelligence.IntelligenceService`` does them): the
    actor owns the queue and its discipline, the service the rules."""

    async def warm_up(self) -> None: ...

    async def unindexed_posts(self, *, within_s: float, limit: int) -> list[int]: ...

    async def analyse_media(self, media_id: int) -> list[int]: ...

    async def index_posts(self, post_ids: list[int]) -> None: ...


BACKFILL_WITHIN_S = 7 * 24 * 3600.0
BACKFILL_LIMIT = 10_000


class IndexActor(Actor):
    def __init__(self, intelligence: ContentAnalysis) -> None:
        self._intelligence = intelligence
        self.done = 0
        self.failed = 0
        self.backfilled = 0
        self._batch: list[int] = []

    async def on_start(self) -> None:
        self.nursery.start_soon(self._prepare)

    async def _prepare(self) -> None:
        # Load the moderation models now: loaded on first use, they held the first comment or
        # message after a start for ~2.5 s (seen by `viora load`).
        await self._intelligence.warm_up()
        await self._backfill()

    async def _backfill(self) -> None:
        """Queue again the recent posts no run finished indexing (a crash, a full queue): the
        queue lives in memory, the truth about what is indexed in the database."""
        try:
            pending = await self._intelligence.unindexed_posts(
                within_s=BACKFILL_WITHIN_S, limit=BACKFILL_LIMIT
            )
        except StoreUnavailable as exc:
            log.warning("cannot look for unindexed posts: %s", exc)
            return
        for post_id in pending:
            await self.ref.tell(IndexPost(post_id))  # we consume meanwhile: backpressure, no deadlock
            self.backfilled += 1

    async def handle(self, message: Any) -> None:
        match message:
            case AnalyseMedia(media_id):
                _, posts = await self._run(message, self._intelligence.analyse_media, media_id)
                self._batch.extend(posts or [])
            case IndexPost(post_id):
                self._batch.append(post_id)
            case _:
                raise TypeError(f"IndexActor cannot handle {type(message).__name__}")
        if self._batch and (self.ref.mailbox_depth() == 0 or len(self._batch) >= INDEX_BATCH):
            batch, self._batch = self._batch, []
            indexed, _ = await self._run(batch, self._intelligence.index_posts, batch)
            if not indexed and len(batch) > 1:
                for post_id in batch:  # one by one: only the post that fails stays unindexed
                    await self._run(IndexPost(post_id), self._intelligence.index_posts, [post_id])

    async def _run(self, job: object, work: Callable[[T], Awaitable[R]], arg: T) -> tuple[bool, R | None]:
        """``(True, await work(arg))``, counted; ``(False, None)`` when it failed (logged, not
        crashed on)."""
        try:
            result = await work(arg)
        except DomainError as exc:
            self.failed += 1
            log.warning("%r not done: %s", job, exc)
            return False, None
        except Exception:
            # A job that fails for its own reasons (odd data, a backend's refusal) is a poison
            # message, not a broken actor: restarting would fail it again and spend the restart
            # budget the whole tree shares. Log it with its traceback and move on.
            self.failed += 1
            log.exception("%r failed", job)
            return False, None
        self.done += 1
        return True, result

    def inspect(self) -> dict[str, Any]:
        return {"jobs_done": self.done, "jobs_failed": self.failed, "backfilled": self.backfilled}
