"""The social rules: who may see and do what, and what each action tells whom.

Request handlers call this service; it enforces visibility (a block hides both users from each
other), writes through the stores, appends the durable stream entries an action produces
(notifications, the actor's activity log, the author's own ``posts`` stream) and pushes them live
to whoever is online. Store errors (``NotFound``, ``Forbidden``, ``Blocked``) travel up unchanged:
the connection maps them to typed protocol errors.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

from actors.feed.actor import FeedRouter
from kernel.errors import NotFound
from protocol.events import POST_CREATED
from protocol.views import COMMENT, POST, PROFILE
from services.intelligence import IntelligenceService
from services.streams import TimelineStreams
from stores.bus import Delivery, EventBus
from stores.presence import PresenceStore
from stores.safety import MuteStore
from stores.social import UNCHANGED, Post, SocialStore, Unchanged
from stores.timeline import TimelineStore
from stores.users import UserStore

MENTION = re.compile(r"(?<![\w@])@([a-z0-9_]{3,32})\b", re.IGNORECASE)
MAX_MENTIONS = 10
NOTIFICATION = "notification"


class SocialService:
    def __init__(
        self,
        *,
        users: UserStore,
        social: SocialStore,
        timeline: TimelineStore,
        streams: TimelineStreams,
        bus: EventBus,
        feed: FeedRouter,
        presence: PresenceStore,
        mutes: MuteStore,
        intelligence: IntelligenceService,
        reindex: Callable[[int], object],
        fanout_write_limit: int,
    ) -> None:
        """``reindex`` queues a post's (re)indexing (the indexer's ``IndexPost``), never waiting."""
        self._users = users
        self._social = social
        self._timeline = timeline
        self._streams = streams
        self._bus = bus
        self._feed = feed
        self._presence = presence
        self._mutes = mutes
        """Whom a viewer muted leaves their home, comments and notifications (see services/safety.py)."""
        self._intelligence = intelligence
        self._reindex = reindex
        self._fanout_write_limit = fanout_write_limit

    # ------------------------------------------------------------------ profiles and graph

    async def profile(self, viewer_id: int, *, user_id: int | None, username: str | None) -> dict[str, Any]:
        if user_id is None:
            user = await self._users.get_user_by_username(username or "")
            if user is None:
                raise NotFound("no such user")
            user_id = user.id
        await self._require_visible(viewer_id, user_id)
        profile = await self._social.get_profile(user_id)
        if profile is None:
            raise NotFound("no such user")
        you_follow = await self._social.followed_among(viewer_id, [user_id])
        return {**PROFILE.build(profile), "you_follow": bool(you_follow)}

    async def update_profile(self, user_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        profile = await self._social.update_profile(user_id, **changes)
        return PROFILE.build(profile)

    async def follow(self, user_id: int, target_id: int) -> bool:
        created = await self._social.follow(user_id, target_id)
        if created:
            await self._notify([target_id], {"kind": "follow", "actor_id": user_id})
            await self._record_activity(user_id, {"kind": "follow", "user_id": target_id})
        return created

    async def unfollow(self, user_id: int, target_id: int) -> bool:
        return await self._social.unfollow(user_id, target_id)

    async def block(self, user_id: int, target_id: int) -> bool:
        return await self._social.block(user_id, target_id)

    async def unblock(self, user_id: int, target_id: int) -> bool:
        return await self._social.unblock(user_id, target_id)

    async def relations(
        self, viewer_id: int, user_id: int, *, followers: bool, cursor: str | None, limit: int
    ) -> dict[str, Any]:
        await self._require_visible(viewer_id, user_id)
        listing = self._social.followers if followers else self._social.following
        page = await listing(user_id, cursor=cursor, limit=limit)
        return {"user_ids": page.user_ids, "cursor": page.next_cursor}

    async def presence(self, viewer_id: int, user_ids: list[int]) -> list[dict[str, Any]]:
        """Online / last seen of the viewer and of the accounts they follow, leaving out the rest.

        The same audience presence pushes have (a user's followers): whether someone is online is
        theirs to show to the people they let follow them (a block removes the follow), not to anyone.
        """
        asked = list(dict.fromkeys(user_ids))
        followed = set(await self._social.followed_among(viewer_id, asked))
        visible = [uid for uid in asked if uid == viewer_id or uid in followed]
        statuses = await self._presence.status(visible)
        return [
            {"user_id": uid, "online": statuses[uid].online, "last_seen": statuses[uid].last_seen}
            for uid in visible
        ]

    # ------------------------------------------------------------------ posts

    async def create_post(
        self,
        author_id: int,
        text: str,
        media_ids: tuple[int, ...],
        reply_to: int | None,
        client_key: str | None = None,
        content_warning: str | None = None,
    ) -> dict[str, Any]:
        """Store the post, record it on the author's streams, queue its fan-out; the reply (the
        author's acknowledgement) does not wait for the fan-out. A retry under the same
        ``client_key`` gets the first post back and sets off nothing again."""
        if reply_to is not None:
            await self._visible_post(author_id, reply_to)
        post = await self._social.create_post(
            author_id,
            text,
            media_ids,
            reply_to,
            client_key=client_key,
            content_warning=_warning(content_warning),
        )
        if not post.replayed:
            await self._timeline.append([author_id], "posts", POST_CREATED, {"post_id": post.id})
            await self._record_activity(author_id, {"kind": "post", "post_id": post.id})
            await self._feed.fan_out(post)
            await self._notify_mentions(
                author_id, text, {"kind": "mention", "actor_id": author_id, "post_id": post.id}
            )
        return POST.build(post)

    async def get_post(self, viewer_id: int, post_id: int) -> dict[str, Any]:
        post = POST.build(await self._visible_post(viewer_id, post_id))
        await self._intelligence.record_view(viewer_id, post)
        return (await self._intelligence.annotate(viewer_id, [post]))[0]

    async def edit_post(
        self, user_id: int, post_id: int, text: str, content_warning: str | Unchanged | None = UNCHANGED
    ) -> dict[str, Any]:
        """Change the text (and the content warning, unless ``UNCHANGED``; empty clears it), then
        judge it as a new caption: the text verdict at once (the reply's ``text_flagged``),
        vectors and alignment by the indexer, queued as a new post's are."""
        warning = content_warning if content_warning is UNCHANGED else _warning(content_warning)
        post = await self._social.edit_post(post_id, user_id, text, content_warning=warning)
        await self._intelligence.moderate_text("post", post.id, post.judged_text)
        if not post.text.strip():
            await self._intelligence.forget_post(post.id)  # no caption: its old vector must go too
        self._reindex(post.id)
        return (await self._intelligence.annotate(user_id, [POST.build(post)]))[0]

    async def reveal_media(self, viewer_id: int, post_id: int, media_id: int) -> dict[str, Any]:
        """One media item of a post the viewer can see, with its files even when flagged (a
        deliberate click-through); a post hidden from them is ``not_found``, like a missing one."""
        post = await self._visible_post(viewer_id, post_id)
        return await self._intelligence.reveal(viewer_id, post.media_ids, media_id)

    async def delete_post(self, user_id: int, post_id: int) -> None:
        await self._social.delete_post(post_id, user_id)
        await self._intelligence.forget_post(post_id)

    async def like(self, user_id: int, post_id: int) -> bool:
        post = await self._visible_post(user_id, post_id)
        created = await self._social.like(user_id, post_id)
        if created and post.author_id != user_id:
            await self._notify([post.author_id], {"kind": "like", "actor_id": user_id, "post_id": post_id})
        if created:
            await self._record_activity(user_id, {"kind": "like", "post_id": post_id})
        return created

    async def unlike(self, user_id: int, post_id: int) -> bool:
        await self._visible_post(user_id, post_id)
        return await self._social.unlike(user_id, post_id)

    async def comment(
        self, user_id: int, post_id: int, text: str, reply_to: int | None, client_key: str | None = None
    ) -> dict[str, Any]:
        post = await self._visible_post(user_id, post_id)
        comment = await self._social.add_comment(post_id, user_id, text, reply_to, client_key=client_key)
        if comment.replayed:  # a retry under the same client key: the first try told everyone
            flagged = comment.id in await self._intelligence.flagged_texts("comment", [comment.id])
            return {**COMMENT.build(comment), "flagged": flagged}
        flagged = await self._intelligence.moderate_text("comment", comment.id, text)
        event = {"kind": "comment", "actor_id": user_id, "post_id": post_id, "comment_id": comment.id}
        if post.author_id != user_id:
            await self._notify([post.author_id], event)
        await self._notify_mentions(user_id, text, {**event, "kind": "mention"})
        await self._record_activity(
            user_id, {"kind": "comment", "post_id": post_id, "comment_id": comment.id}
        )
        return {**COMMENT.build(comment), "flagged": flagged}

    async def comments(
        self, viewer_id: int, post_id: int, after_id: int | None, limit: int
    ) -> dict[str, Any]:
        await self._visible_post(viewer_id, post_id)
        page = await self._social.comments(post_id, after_id=after_id, limit=limit)
        hidden = await self._social.blocked_set(viewer_id) | await self._mutes.muted_set(viewer_id)
        flagged = await self._intelligence.flagged_texts("comment", [c.id for c in page])
        return {
            "comments": [
                {**COMMENT.build(c), "flagged": c.id in flagged} for c in page if c.author_id not in hidden
            ],
            "cursor": page[-1].id if len(page) == limit else None,
        }

    # ------------------------------------------------------------------ timelines

    async def home(self, user_id: int, before: int | None, limit: int) -> dict[str, Any]:
        """The home timeline: fanned-out entries, plus posts of big accounts merged at read time.

        Paging is by the home stream's sequence number; big accounts' posts are merged into the
        time span the page covers (newer than its oldest entry, or anything on a short last page).
        Only their newest ``limit`` posts are considered: scrolling far back through a big
        account's older posts would need a keyset on time (not built yet).
        """
        entries = await self._timeline.read_before(user_id, "home", before, limit)
        events = await self._streams.hydrate(user_id, entries, hide_muted=True)
        # A post appended twice (fan-out is at least once) is shown once; the page is sorted below.
        posts = list({e.body["post"]["id"]: e.body["post"] for e in events if e.type == POST_CREATED}.values())
        big = await self._social.big_accounts_followed(user_id, self._fanout_write_limit + 1)
        if big:
            # The span this page covers: up to its newest entry (everything, on the first page),
            # down to its oldest entry (everything older, on a short last page).
            times = [p["created_at"] for p in posts]
            oldest = min(times) if times and len(entries) == limit else None
            newest = max(times) if times and before is not None else None
            seen = {p["id"] for p in posts}
            hidden = await self._social.blocked_set(user_id) | await self._mutes.muted_set(user_id)
            for post in await self._social.posts_by(big, limit=limit):
                if (
                    post.id not in seen
                    and post.author_id not in hidden
                    and (oldest is None or post.created_at >= oldest)
                    and (newest is None or post.created_at < newest)
                ):
                    posts.append(POST.build(post))
        posts.sort(key=lambda p: (p["created_at"], p["id"]), reverse=True)
        cursor = entries[-1].seq if len(entries) == limit else None
        return {"posts": await self._intelligence.annotate(user_id, posts), "cursor": cursor}

    async def for_you(self, user_id: int, limit: int) -> dict[str, Any]:
        """Recommended posts (near what you liked) interleaved with recent posts of people you follow."""
        following = (await self.home(user_id, None, limit))["posts"]
        recommended = [
            r["post"]
            for r in await self._intelligence.recommend(
                user_id, limit=limit, exclude_post_ids=[p["id"] for p in following]
            )
        ]
        recommended_ids = {p["id"] for p in recommended}
        mixed: list[dict[str, Any]] = []
        for pair in itertools.zip_longest(recommended, following):
            for post in pair:
                if post is not None and all(post["id"] != m["id"] for m in mixed):
                    mixed.append({**post, "recommended": post["id"] in recommended_ids})
        return {"posts": mixed[:limit]}

    async def user_timeline(
        self, viewer_id: int, user_id: int, before: int | None, limit: int
    ) -> dict[str, Any]:
        await self._require_visible(viewer_id, user_id)
        entries = await self._timeline.read_before(user_id, "posts", before, limit)
        events = await self._streams.hydrate(viewer_id, entries)
        posts = [e.body["post"] for e in events if e.type == POST_CREATED]
        return {
            "posts": await self._intelligence.annotate(viewer_id, posts),
            "cursor": entries[-1].seq if len(entries) == limit else None,
        }

    async def notifications(self, user_id: int, before: int | None, limit: int) -> dict[str, Any]:
        entries = await self._timeline.read_before(user_id, "notifications", before, limit)
        muted = await self._mutes.muted_set(user_id)  # those stored before the mute
        return {
            "notifications": [
                {"seq": e.seq, **e.body, "created_at": e.created_at}
                for e in entries
                if e.body["actor_id"] not in muted
            ],
            "cursor": entries[-1].seq if len(entries) == limit else None,
        }

    # ------------------------------------------------------------------ helpers

    async def _require_visible(self, viewer_id: int, user_id: int) -> None:
        if viewer_id != user_id and await self._social.blocked_between(viewer_id, user_id):
            raise NotFound("no such user")  # a block hides the other account entirely

    async def _visible_post(self, viewer_id: int, post_id: int) -> Post:
        post = (await self._social.get_posts([post_id])).get(post_id)
        if post is None or (
            post.author_id != viewer_id and await self._social.blocked_between(viewer_id, post.author_id)
        ):
            raise NotFound("no such post")
        return post

    async def _notify(self, user_ids: list[int], body: dict[str, Any]) -> None:
        """Store a notification for each user, then push it to those online; those who muted
        whoever set it off are not told."""
        muters = await self._mutes.muters_of(body["actor_id"])
        user_ids = [uid for uid in user_ids if uid not in muters]
        if not user_ids:
            return
        appended = await self._timeline.append(user_ids, "notifications", NOTIFICATION, body)
        await self._bus.publish(Delivery("notifications", NOTIFICATION, body, tuple(appended)))

    async def _notify_mentions(self, author_id: int, text: str, body: dict[str, Any]) -> None:
        names = list(dict.fromkeys(m.lower() for m in MENTION.findall(text)))[:MAX_MENTIONS]
        targets = []
        for name in names:
            user = await self._users.get_user_by_username(name)
            if (
                user is not None
                and user.id != author_id
                and not await self._social.blocked_between(author_id, user.id)
            ):
                targets.append(user.id)
        if targets:
            await self._notify(targets, body)

    async def _record_activity(self, user_id: int, body: dict[str, Any]) -> None:
        await self._timeline.append([user_id], "activity", body["kind"], body)


def _warning(content_warning: str | None) -> str | None:
    """A content warning as stored: trimmed, and None for an empty one (no warning)."""
    stripped = (content_warning or "").strip()
    return stripped or None
