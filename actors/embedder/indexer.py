"""The IndexActor: runs the content-understanding jobs one at a time, off every request path.

Media analysis (moderation) and post indexing (embeddings, alignment) are queued here by the media
pipeline and by ``post.create``; requests never wait for them. A job that meets an outage (database,
vector store, a busy or restarting embedder) or fails on its own data is logged and counted, not
crashed on: re-running it is safe (every write is idempotent), and the next change to the same
content queues it again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from actors.actor import Actor
from actors.embedder.errors import EmbedderError
from stores.errors import StoreUnavailable
from viora.intelligence import IntelligenceService

log = logging.getLogger("viora.indexer")


@dataclass(frozen=True, slots=True)
class AnalyseMedia:
    """A media item finished processing: moderate it, then re-index the posts that show it."""

    media_id: int


@dataclass(frozen=True, slots=True)
class IndexPost:
    post_id: int


BACKFILL_WITHIN_S = 7 * 24 * 3600.0
BACKFILL_LIMIT = 10_000


class IndexActor(Actor):
    def __init__(self, intelligence: IntelligenceService) -> None:
        self._intelligence = intelligence
        self.done = 0
        self.failed = 0
        self.backfilled = 0

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
        try:
            match message:
                case AnalyseMedia(media_id):
                    for post_id in await self._intelligence.analyse_media(media_id):
                        await self._intelligence.index_post(post_id)
                case IndexPost(post_id):
                    await self._intelligence.index_post(post_id)
                case _:
                    raise TypeError(f"IndexActor cannot handle {type(message).__name__}")
        except (StoreUnavailable, EmbedderError) as exc:
            self.failed += 1
            log.warning("%r not done: %s", message, exc)
            return
        except Exception:
            # A job that fails for its own reasons (odd data, a backend's refusal) is a poison
            # message, not a broken actor: restarting would fail it again and spend the restart
            # budget the whole tree shares. Log it with its traceback and move on.
            self.failed += 1
            log.exception("%r failed", message)
            return
        self.done += 1

    def inspect(self) -> dict[str, Any]:
        return {"jobs_done": self.done, "jobs_failed": self.failed, "backfilled": self.backfilled}
