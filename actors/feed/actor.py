"""FeedActors: fan a new post out to its author's followers, durably then live.

Fan-out on write: the post's id is appended to every follower's ``home`` stream in batched
statements, then published on the event bus — with the sequence number the store gave each
follower — for every server process to push to the followers online there.
Accounts with more than ``fanout_write_limit`` followers are the exception (as on large platforms):
writing their posts into every follower's timeline costs too much, so readers merge them in at read
time, and only followers online right now get the post written and pushed. Followers who muted the
author get neither (the follow stays: unmuting shows their later posts again).

Posts of one author always go to the same FeedActor (``author_id % n``), so their fan-outs never
overtake each other. A post is marked done in the fan-out ledger once fanned out; one that never is
(a crash, a long outage) is fanned out again by :mod:`actors.feed.recovery`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from actors.actor import Actor, ActorRef, actor_spec
from actors.feed.recovery import FanoutRecovery
from kernel.errors import StoreUnavailable
from protocol.events import POST_CREATED
from protocol.views import POST
from stores.bus import Delivery, EventBus, publish_live
from stores.fanout import FanoutLedger
from stores.safety import MuteStore
from stores.social import Post, SocialStore
from stores.timeline import TimelineStore
from supervisor import ChildSpec

log = logging.getLogger("viora.feed")

RETRY_DELAYS_S = (0.1, 0.5, 2.0)


class OnlineUsers(Protocol):
    """Who has a socket open on this process (the session directory knows)."""

    def is_online(self, user_id: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class FanOut:
    post: Post


class FeedActor(Actor):
    def __init__(
        self,
        social: SocialStore,
        timeline: TimelineStore,
        ledger: FanoutLedger,
        sessions: OnlineUsers,
        bus: EventBus,
        write_limit: int,
        after: Callable[[Post], object],
        mutes: MuteStore,
    ) -> None:
        self._social = social
        self._mutes = mutes
        self._ledger = ledger
        self._after = after
        """Told each post once it is delivered (content indexing starts there, after live delivery)."""
        self._timeline = timeline
        self._sessions = sessions
        self._bus = bus
        self._write_limit = write_limit
        self.posts = 0
        self.deliveries = 0
        self.failed = 0
        self.undelivered = 0
        """Batches stored but not delivered live (followers get them on their next resume)."""

    async def handle(self, message: Any) -> None:
        if not isinstance(message, FanOut):
            raise TypeError(f"FeedActor cannot handle {type(message).__name__}")
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None), start=1):
            try:
                await self._fan_out(message.post)
                break
            except StoreUnavailable as exc:
                # An outage is not a bug: retry a few times rather than crash into it (appends are
                # one transaction per batch, so a retried batch is never half-applied).
                log.warning("fan-out of post %s failed (attempt %d): %s", message.post.id, attempt, exc)
                if delay is None:
                    self.failed += 1
                    return  # still pending in the ledger: the recovery sweep fans it out later
                await trio.sleep(delay)
        try:
            await self._ledger.done(message.post.id)
        except StoreUnavailable as exc:  # not retried here: that would write the streams twice
            log.warning("post %s fanned out but not marked done: %s", message.post.id, exc)

    async def _fan_out(self, stale: Post) -> None:
        post = (await self._social.get_posts([stale.id])).get(stale.id)
        if post is None:
            return  # deleted before its fan-out ran: followers' timelines never see it (nor recovery)
        followers = await self._social.follower_ids(post.author_id)
        muters = await self._mutes.muters_of(post.author_id)
        audience = [post.author_id, *(uid for uid in followers if uid not in muters)]
        online = [uid for uid in audience if self._sessions.is_online(uid)]
        if len(followers) > self._write_limit:
            offline = [] if post.author_id in online else [post.author_id]  # big accounts: read-time merge
        else:
            online_set = set(online)
            offline = [uid for uid in audience if uid not in online_set]
        body = {"post": POST.build(post)}
        # Followers online here first, in their own small batch: each entry is still stored
        # before it is pushed, but the push no longer waits for the 10,000-row write behind it.
        for batch in (online, offline):
            if batch:
                appended = await self._timeline.append(batch, "home", POST_CREATED, {"post_id": post.id})
                if not await publish_live(self._bus, Delivery("home", POST_CREATED, body, tuple(appended))):
                    self.undelivered += 1
                self.deliveries += len(appended)
        self.posts += 1
        self._after(post)

    def inspect(self) -> dict[str, Any]:
        return {
            "posts_fanned_out": self.posts,
            "timeline_writes": self.deliveries,
            "failed": self.failed,
            "undelivered": self.undelivered,
        }


class FeedRouter:
    """The FeedActors and the rule that picks one for a post."""

    def __init__(
        self,
        count: int,
        *,
        social: SocialStore,
        timeline: TimelineStore,
        ledger: FanoutLedger,
        sessions: OnlineUsers,
        bus: EventBus,
        write_limit: int,
        mailbox: int,
        mutes: MuteStore,
        after_fan_out: Callable[[Post], object] = lambda post: None,
    ) -> None:
        self.specs: list[ChildSpec] = []
        self._refs: list[ActorRef[FeedActor]] = []
        self.recovery = FanoutRecovery(ledger, social, self.fan_out, bus.alone)
        for n in range(count):
            spec, ref = actor_spec(
                f"feed-{n}",
                lambda: FeedActor(social, timeline, ledger, sessions, bus, write_limit, after_fan_out, mutes),
                capacity=mailbox,
            )
            self.specs.append(spec)
            self._refs.append(ref)
        self.specs.append(ChildSpec("recovery", self.recovery.run))

    async def fan_out(self, post: Post) -> None:
        """Queue the post's fan-out (waits only if that FeedActor's mailbox is full)."""
        await self._refs[post.author_id % len(self._refs)].tell(FanOut(post))
