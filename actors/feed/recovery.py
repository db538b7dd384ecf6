"""Fan-out recovery: posts acknowledged but never fanned out are fanned out again.

A post is pending in the fan-out ledger from its creation until its FeedActor has written it to
every follower's home stream. A process that dies in between (or an outage that outlasts the
FeedActor's retries) leaves it pending; this sweeper, one per process, claims posts pending for
longer than a fan-out can take and hands them to the FeedActors again. Claims are leased in the
database, so several processes sweeping at once fan each post out once more, not once each.

Fan-out is therefore *at least once*: a process that dies after writing some home streams but
before marking the post done makes the retry write those streams again. Home timelines show each
post once (``SocialService.home`` keeps the newest entry of a post), so the cost is a repeated
``post.created`` on a resumed stream, never a missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from kernel.errors import StoreUnavailable
from stores.fanout import FanoutLedger
from stores.social import Post, SocialStore
from supervisor import ChildContext

log = logging.getLogger("viora.feed")

STUCK_AFTER_S = 60.0
"""A post still pending this long after its creation was lost: a FeedActor takes milliseconds,
and gives up retrying an outage after ~3 s."""
CLAIM_LEASE_S = 120.0
SWEEP_EVERY_S = 15.0
BATCH = 100


class FanoutRecovery:
    def __init__(
        self, ledger: FanoutLedger, social: SocialStore, fan_out: Callable[[Post], Awaitable[None]]
    ) -> None:
        self._ledger = ledger
        self._social = social
        self._fan_out = fan_out
        self.recovered = 0

    async def run(self, ctx: ChildContext) -> None:
        """Supervised child body: sweep at start (a crash's leftovers), then every ``SWEEP_EVERY_S``."""
        ctx.expose(lambda: {"recovered": self.recovered})
        ctx.started()
        await ctx.run_until_stopped(self._sweep_forever)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                while await self.sweep_once() == BATCH:
                    pass  # a big backlog: keep going
            except StoreUnavailable as exc:
                log.warning("fan-out recovery cannot reach the database: %s", exc)
            await trio.sleep(SWEEP_EVERY_S)

    async def sweep_once(self, older_than_s: float = STUCK_AFTER_S) -> int:
        """Hand the posts pending longer than ``older_than_s`` to the FeedActors; how many were claimed."""
        post_ids = await self._ledger.claim_stuck(
            older_than_s=older_than_s, lease_s=CLAIM_LEASE_S, limit=BATCH
        )
        posts = await self._social.get_posts(post_ids)
        for post_id in post_ids:
            if (post := posts.get(post_id)) is not None:
                log.info("fanning out post %s again: its fan-out never finished", post_id)
                await self._fan_out(post)
                self.recovered += 1
        return len(post_ids)
