"""Durable streams as clients see them: timeline-store entries, hydrated.

Home and user timelines store only post ids (a post fanned out to 10,000 followers is stored once
in PostgreSQL, not 10,000 times); reading them back joins the posts. A post deleted since, or by
someone the reader has blocked since, comes back as ``post.removed`` under the same sequence number
— so sequence numbers stay contiguous and a resuming client can tell it missed nothing. On the
reader's ``home`` stream so does a post of someone they muted since (their profile still shows it).
"""

from __future__ import annotations

from typing import Any

from actors.session.actor import StreamEvent
from protocol.events import POST_CREATED, POST_REMOVED
from protocol.views import POST
from stores.safety import MuteStore
from stores.social import SocialStore
from stores.timeline import Entry, TimelineStore


class TimelineStreams:
    """The :class:`~actors.session.actor.StreamReader` the SessionActors replay from."""

    def __init__(self, timeline: TimelineStore, social: SocialStore, mutes: MuteStore) -> None:
        self._timeline = timeline
        self._social = social
        self._mutes = mutes

    async def read(self, user_id: int, stream: str, after: int, limit: int) -> list[StreamEvent]:
        entries = await self._timeline.read_after(user_id, stream, after, limit)
        return await self.hydrate(user_id, entries, hide_muted=stream == "home")

    async def head(self, user_id: int, stream: str) -> int:
        return await self._timeline.head(user_id, stream)

    async def hydrate(
        self, viewer_id: int, entries: list[Entry], *, hide_muted: bool = False
    ) -> list[StreamEvent]:
        """``hide_muted``: posts of accounts the viewer mutes are removed too (their home stream)."""
        post_ids = [e.body["post_id"] for e in entries if e.type == POST_CREATED]
        posts = await self._social.get_posts(post_ids) if post_ids else {}
        hidden = await self._social.blocked_set(viewer_id) if post_ids else set()
        if post_ids and hide_muted:
            hidden |= await self._mutes.muted_set(viewer_id)
        return [self._event(entry, posts, hidden) for entry in entries]

    @staticmethod
    def _event(entry: Entry, posts: dict[int, Any], hidden: set[int]) -> StreamEvent:
        if entry.type != POST_CREATED:
            return StreamEvent(entry.seq, entry.type, entry.body)
        post = posts.get(entry.body["post_id"])
        if post is None or post.author_id in hidden:
            return StreamEvent(entry.seq, POST_REMOVED, {"post_id": entry.body["post_id"]})
        return StreamEvent(entry.seq, POST_CREATED, {"post": POST.build(post)})
